package kerneltest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The lab's own addresses. Flows must not use them (see Excluded): they
// are the firewall's interfaces and its next hops.
var (
	labNet4 = netip.MustParsePrefix("198.18.255.0/29")
	labNet6 = netip.MustParsePrefix("fdff:ff::/32")
)

// Fixed MAC addresses, so that frames can be built without asking.
var (
	macClient   = [6]byte{0x02, 0xff, 0, 0, 0, 0xc0} // c0, in the client namespace
	macFwClient = [6]byte{0x02, 0xff, 0, 0, 0, 0xf0} // f0, the firewall's client side
	macFwServer = [6]byte{0x02, 0xff, 0, 0, 0, 0xf1} // f1, the firewall's server side
	macServer   = [6]byte{0x02, 0xff, 0, 0, 0, 0x51} // s1, in the server namespace
)

// Lab is three network namespaces, client — firewall — server, joined by
// veth pairs. The firewall forwards every address, IPv4 and IPv6: what
// comes in from the client goes out to the server (policy routing on the
// incoming interface), and what the firewall itself sends (TCP resets and
// ICMP errors of reject) goes back to the client. The client and server
// have no addresses and IPv6 off: they only send and capture raw frames.
type Lab struct {
	t                        testing.TB
	Client, Firewall, Server string  // the namespaces' names
	p                        *prober // opened by the first Probe
}

// NewLab builds a lab with unique names and removes it with t.Cleanup,
// even when the test fails. Call Require first.
func NewLab(t testing.TB) *Lab {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := fmt.Sprintf("ffk-%d-%s", os.Getpid(), hex.EncodeToString(b[:]))
	l := &Lab{t: t, Client: base + "-c", Firewall: base + "-f", Server: base + "-s"}
	for _, ns := range []string{l.Client, l.Firewall, l.Server} {
		l.must(run(nil, "ip", "netns", "add", ns))
		t.Cleanup(func() {
			if err := run(nil, "ip", "netns", "del", ns); err != nil {
				t.Errorf("remove namespace %s: %v", ns, err)
			}
		})
	}
	f, c, s := l.Firewall, l.Client, l.Server
	mac := func(m [6]byte) string {
		return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
	}
	// Sysctls first, so that the links come up without DAD or router
	// solicitations, and the firewall sends every ICMP error it is told
	// to (rate limits off; the ratemask exempts every type).
	l.must(l.sysctl(c, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"))
	l.must(l.sysctl(s, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"))
	l.must(l.sysctl(f,
		"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.default.forwarding=1",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv4.conf.all.accept_local=1", "net.ipv4.conf.default.accept_local=1",
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
		"net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_ratemask=0",
		"net.ipv4.icmp_msgs_per_sec=1000000", "net.ipv4.icmp_msgs_burst=1000000",
		"net.ipv6.icmp.ratelimit=0"))
	for _, args := range [][]string{
		{"-n", f, "link", "add", "f0", "address", mac(macFwClient), "type", "veth", "peer", "name", "c0", "address", mac(macClient), "netns", c},
		{"-n", f, "link", "add", "f1", "address", mac(macFwServer), "type", "veth", "peer", "name", "s1", "address", mac(macServer), "netns", s},
		{"-n", f, "link", "set", "f0", "up"},
		{"-n", f, "link", "set", "f1", "up"},
		{"-n", c, "link", "set", "c0", "up"},
		{"-n", s, "link", "set", "s1", "up"},
		{"-n", f, "addr", "add", "198.18.255.1/30", "dev", "f0"},
		{"-n", f, "addr", "add", "198.18.255.5/30", "dev", "f1"},
		{"-n", f, "-6", "addr", "add", "fdff:ff:1::1/64", "dev", "f0", "nodad"},
		{"-n", f, "-6", "addr", "add", "fdff:ff:2::1/64", "dev", "f1", "nodad"},
		// Permanent neighbours: no ARP or ND is needed or answered.
		{"-n", f, "neigh", "add", "198.18.255.2", "lladdr", mac(macClient), "dev", "f0", "nud", "permanent"},
		{"-n", f, "neigh", "add", "198.18.255.6", "lladdr", mac(macServer), "dev", "f1", "nud", "permanent"},
		{"-n", f, "-6", "neigh", "add", "fdff:ff:1::2", "lladdr", mac(macClient), "dev", "f0", "nud", "permanent"},
		{"-n", f, "-6", "neigh", "add", "fdff:ff:2::2", "lladdr", mac(macServer), "dev", "f1", "nud", "permanent"},
		// The firewall's own packets go back to the client ...
		{"-n", f, "route", "add", "default", "via", "198.18.255.2", "dev", "f0"},
		{"-n", f, "-6", "route", "add", "default", "via", "fdff:ff:1::2", "dev", "f0"},
		// ... and everything from the client goes on to the server.
		{"-n", f, "route", "add", "default", "via", "198.18.255.6", "dev", "f1", "table", "100"},
		{"-n", f, "-6", "route", "add", "default", "via", "fdff:ff:2::2", "dev", "f1", "table", "100"},
		{"-n", f, "rule", "add", "iif", "f0", "lookup", "100", "pref", "100"},
		{"-n", f, "-6", "rule", "add", "iif", "f0", "lookup", "100", "pref", "100"},
	} {
		l.must(run(nil, "ip", args...))
	}
	l.must(l.sysctl(f, "net.ipv4.conf.f0.rp_filter=0", "net.ipv4.conf.f1.rp_filter=0"))
	return l
}

func (l *Lab) must(err error) {
	l.t.Helper()
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
}

func (l *Lab) sysctl(ns string, kv ...string) error {
	return l.Exec(ns, nil, "sysctl", append([]string{"-q", "-w"}, kv...)...)
}

// Exec runs a command inside namespace ns with stdin.
func (l *Lab) Exec(ns string, stdin []byte, name string, args ...string) error {
	return run(stdin, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// LoadNFT loads an nft -f file in the firewall namespace.
func (l *Lab) LoadNFT(text []byte) error {
	return l.Exec(l.Firewall, text, "nft", "-f", "-")
}

// LoadIPTables restores the IPv4 and IPv6 filter tables in the firewall
// namespace.
func (l *Lab) LoadIPTables(v4, v6 []byte) error {
	if err := l.Exec(l.Firewall, v4, "iptables-restore"); err != nil {
		return err
	}
	return l.Exec(l.Firewall, v6, "ip6tables-restore")
}

func run(stdin []byte, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// inNetns runs fn on an OS thread that has entered namespace ns. The
// thread goes back to its own namespace afterwards; if it cannot, it stays
// locked and dies with its goroutine, so no other goroutine runs in ns.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own netns: %w", err)
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open netns %s: %w", ns, err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}
