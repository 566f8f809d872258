package export_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/export/kerneltest"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var goldenNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func pfx(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func ports(ss ...string) []firewall.PortRange {
	out := make([]firewall.PortRange, len(ss))
	for i, s := range ss {
		pr, err := firewall.ParsePortRange(s)
		if err != nil {
			panic(err)
		}
		out[i] = pr
	}
	return out
}

// goldenTree holds one of each construct the renderers treat apart.
func goldenTree() firewall.Tree {
	fw := firewall.NewFirewall()
	fw.ID, fw.Name, fw.Revision = "fw-1", "edge par1", 42
	rule := func(id, name string, pos int, a firewall.Action, p firewall.Protocol, src, dst []netip.Prefix, sp, dp []firewall.PortRange) firewall.Rule {
		r := firewall.NewRule()
		r.ID, r.Name, r.Position, r.Action, r.Protocol = id, name, pos, a, p
		r.Sources, r.Destinations, r.SourcePorts, r.DestinationPorts = src, dst, sp, dp
		return r
	}
	var many []firewall.PortRange
	for p := 1000; p < 1040; p += 2 {
		many = append(many, firewall.PortRange{Low: uint16(p), High: uint16(p)})
	}
	many = append(many, ports("2000-2100", "3000-3100", "4000-4100")...)
	web := firewall.PolicyTree{Policy: firewall.Policy{Meta: firewall.Meta{ID: "pol-web"}, Name: "web", Priority: 10, DefaultAction: firewall.Next, Enabled: true}}
	web.Rules = []firewall.Rule{
		rule("r-https", `https "in"`, 1, firewall.Allow, firewall.TCP, nil, pfx("192.0.2.0/24", "2001:db8:1::/48"), nil, ports("443", "80", "8000-8999")),
		rule("r-ssh", "ssh from admins", 2, firewall.Allow, firewall.TCP, pfx("10.0.0.0/8", "10.1.0.0/16", "198.51.100.7/32"), pfx("192.0.2.10/32"), ports("1024-65535"), ports("22")),
		rule("r-any-reject", "reject the rest of the lab", 3, firewall.Reject, firewall.AnyProtocol, pfx("172.16.0.0/12", "fd00::/8"), nil, nil, nil),
		rule("r-icmp6-on-v4", "never matches", 4, firewall.Deny, firewall.ICMPv6, pfx("10.0.0.0/8"), nil, nil, nil),
		rule("r-udp-reject", "", 5, firewall.Reject, firewall.UDP, nil, nil, nil, ports("53")),
		rule("r-many-ports", "many ports ünïcode", 6, firewall.Deny, firewall.UDP, pfx("203.0.113.0/24", "2001:db8:2::/48", "203.0.113.128/25"), pfx("198.18.0.0/15", "2001:db8:3::/64"), ports("5000-5010"), many),
		rule("r-icmp", "ping", 7, firewall.Allow, firewall.ICMP, nil, nil, nil, nil),
		rule("r-icmpv6", "ping6", 8, firewall.Reject, firewall.ICMPv6, nil, pfx("::ffff:10.1.2.0/120"), nil, nil),
		rule("r-disabled", "off", 9, firewall.Allow, firewall.AnyProtocol, nil, nil, nil, nil),
		rule("r-expired", "gone", 10, firewall.Allow, firewall.AnyProtocol, nil, nil, nil, nil),
		rule("r-expiring", "soon "+strings.Repeat("long name ", 30), 11, firewall.Deny, firewall.TCP, nil, nil, nil, nil),
	}
	web.Rules[8].Enabled = false
	web.Rules[9].ExpiresAt = fwgen.PtrTime(goldenNow)
	web.Rules[10].ExpiresAt = fwgen.PtrTime(goldenNow.Add(time.Hour))
	off := firewall.PolicyTree{Policy: firewall.Policy{Meta: firewall.Meta{ID: "pol-off"}, Name: "off", Priority: 5, DefaultAction: firewall.Deny, Enabled: false}}
	off.Rules = []firewall.Rule{rule("r-off", "", 1, firewall.Deny, firewall.AnyProtocol, nil, nil, nil, nil)}
	allow := firewall.PolicyTree{Policy: firewall.Policy{Meta: firewall.Meta{ID: "pol-last"}, Name: "last resort", Priority: 30, DefaultAction: firewall.Allow, Enabled: true}}
	var wideSrc, wideDst []netip.Prefix
	for i := range 40 {
		wideSrc = append(wideSrc, netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 64, byte(i), 0}), 24))
	}
	for i := range 30 {
		wideDst = append(wideDst, netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 100, 0, byte(i)}), 32))
	}
	allow.Rules = []firewall.Rule{
		rule("r-deny-v6", "v6 only", 1, firewall.Deny, firewall.AnyProtocol, pfx("::/0"), nil, nil, nil),
		// 40 × 30 lines inline would be too many: iptables chains the lists.
		rule("r-wide", "wide", 2, firewall.Reject, firewall.AnyProtocol, wideSrc, wideDst, nil, nil),
	}
	deny := firewall.PolicyTree{Policy: firewall.Policy{Meta: firewall.Meta{ID: "pol-deny"}, Name: "deny", Priority: 20, DefaultAction: firewall.Deny, Enabled: true}}
	deny.Rules = []firewall.Rule{
		// Three of one shape, then one overlapping the first: merge joins
		// the three into one concatenation and starts again at the fourth.
		rule("r-m1", "", 1, firewall.Allow, firewall.TCP, pfx("10.9.0.0/16"), pfx("192.0.2.1/32"), nil, ports("80", "443")),
		rule("r-m2", "", 2, firewall.Allow, firewall.TCP, pfx("10.8.0.0/16"), pfx("192.0.2.2/32"), nil, ports("22")),
		rule("r-m3", "", 3, firewall.Allow, firewall.TCP, pfx("10.9.0.0/16"), pfx("192.0.2.2/32"), nil, ports("25")),
		rule("r-m4", "", 4, firewall.Allow, firewall.TCP, pfx("10.9.1.0/24"), pfx("192.0.2.1/32"), nil, ports("443")),
		rule("r-all", "all tcp", 5, firewall.Allow, firewall.TCP, pfx("0.0.0.0/0"), nil, nil, nil),
	}
	return firewall.Tree{Firewall: fw, Policies: []firewall.PolicyTree{allow, web, off, deny}}
}

type goldenCase struct {
	name string
	opt  export.Options
}

func goldenCases() []goldenCase {
	var cs []goldenCase
	for _, f := range export.Formats {
		for _, h := range []export.Hook{export.Forward, export.Input, export.Output} {
			for _, st := range []bool{false, true} {
				if h != export.Forward && st {
					continue
				}
				name := fmt.Sprintf("%s-%s", f, h)
				if st {
					name += "-stateful"
				}
				cs = append(cs, goldenCase{name, export.Options{Format: f, Hook: h, Stateful: st, Now: goldenNow}})
			}
		}
	}
	cs = append(cs, goldenCase{"nftables-forward-merged", export.Options{Format: export.NFTables, Merge: true, Now: goldenNow}})
	return cs
}

func ext(f export.Format) string {
	if f == export.NFTables {
		return ".nft"
	}
	return ".rules"
}

// TestGolden renders the golden tree in every format and compares with
// testdata/golden; go test -run TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	tree := goldenTree()
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			res, err := export.Render(&tree, c.opt)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			path := filepath.Join("testdata", "golden", c.name+ext(c.opt.Format))
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, res.Text, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (go test -run TestGolden -update writes it): %v", err)
			}
			if !bytes.Equal(res.Text, want) {
				t.Errorf("%s differs from the rendering; got:\n%s", path, res.Text)
			}
		})
	}
}

// checkTool runs the format's own checker on text in a throwaway netns.
func checkTool(t *testing.T, f export.Format, text []byte) {
	t.Helper()
	var out []byte
	var err error
	switch f {
	case export.NFTables:
		out, err = kerneltest.Check(text, "nft", "-c", "-f", "-")
	case export.IPTables:
		out, err = kerneltest.Check(text, "iptables-restore", "--test")
	case export.IP6Tables:
		out, err = kerneltest.Check(text, "ip6tables-restore", "--test")
	}
	if err != nil {
		t.Fatalf("%s check refused the export: %v\n%s\n--- export ---\n%s", f, err, out, numbered(text))
	}
}

func numbered(text []byte) string {
	var b strings.Builder
	for i, l := range strings.Split(string(text), "\n") {
		fmt.Fprintf(&b, "%4d %s\n", i+1, l)
	}
	return b.String()
}

func toolOf(f export.Format) string {
	switch f {
	case export.IPTables:
		return "iptables-restore"
	case export.IP6Tables:
		return "ip6tables-restore"
	}
	return "nft"
}

// TestToolsAcceptGolden: nft -c -f and *tables-restore --test accept every
// golden export.
func TestToolsAcceptGolden(t *testing.T) {
	tree := goldenTree()
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			kerneltest.Require(t, toolOf(c.opt.Format))
			res, err := export.Render(&tree, c.opt)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			checkTool(t, c.opt.Format, res.Text)
		})
	}
}

// TestToolsAcceptRandom: the tools accept the exports of random trees
// that hold every construct the generator draws.
func TestToolsAcceptRandom(t *testing.T) {
	for _, f := range export.Formats {
		t.Run(string(f), func(t *testing.T) {
			kerneltest.Require(t, toolOf(f))
			r := rand.New(rand.NewPCG(7, uint64(len(f))))
			for i := range 20 {
				tree := fwgen.NewAdversarial(r, false).Tree(6, 60)
				tree.Firewall.Name = fmt.Sprintf("random %d", i)
				res, err := export.Render(&tree, export.Options{Format: f, Stateful: i%2 == 0, Merge: i%4 < 2, Now: fwgen.Now})
				if err != nil {
					t.Fatalf("tree %d: Render: %v", i, err)
				}
				checkTool(t, f, res.Text)
			}
		})
	}
}
