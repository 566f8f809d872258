package kerneltest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Verdict is what the kernel did with one packet.
type Verdict string

// The verdicts a probe can record.
const (
	Arrived      Verdict = "arrived"        // seen leaving the firewall at the server
	Dropped      Verdict = "dropped"        // nothing came of it
	RejectedRST  Verdict = "rejected(rst)"  // a TCP reset came back to the client
	RejectedICMP Verdict = "rejected(icmp)" // an ICMP(v6) administratively prohibited came back
	// Confused is any other outcome: two at once, or another ICMP error.
	Confused Verdict = "confused"
)

// Expect is the verdict FireFlow's decision calls for: allow arrives, deny
// drops, reject sends a TCP reset to tcp and an ICMP unreachable to the rest.
// One exception is the kernel's, not the ruleset's: it never sends an IPv6
// TCP reset for a packet from or to an address that is not unicast (:: or
// IPv4-mapped; nf_send_reset6 checks ipv6_addr_type), so such a reject
// drops.
func Expect(f firewall.Flow, a firewall.Action) Verdict {
	switch a {
	case firewall.Allow:
		return Arrived
	case firewall.Deny:
		return Dropped
	case firewall.Reject:
		if f.Protocol == firewall.TCP {
			if noReset(f.Source) || noReset(f.Destination) {
				return Dropped
			}
			return RejectedRST
		}
		return RejectedICMP
	}
	return Confused
}

// Excluded says why the kernel drops a packet with address a as its
// source (asSource) or destination whatever the ruleset, or returns "" when
// it forwards such packets. Flows with such addresses prove nothing and
// are left out of kernel tests; TestKernelExclusions shows the list is
// exact on both sides (0.0.0.0/8 beyond 0.0.0.0, 169.254.0.0/16, 240.0.0.0/4,
// IPv4-mapped IPv6 and :: as a destination are all forwarded).
func Excluded(a netip.Addr, asSource bool) string {
	for _, e := range exclusions {
		if e.p.Contains(a) && (asSource || !e.sourceOnly) {
			return e.why
		}
	}
	return ""
}

// noReset reports whether nf_send_reset6 refuses an address: the
// unspecified address and IPv4-mapped ones are not IPV6_ADDR_UNICAST.
func noReset(a netip.Addr) bool {
	return a.Is6() && (a == netip.IPv6Unspecified() || a.Is4In6())
}

var exclusions = []struct {
	p          netip.Prefix
	sourceOnly bool
	why        string
}{
	{netip.MustParsePrefix("0.0.0.0/32"), false, "the IPv4 unspecified address is martian"},
	{netip.MustParsePrefix("127.0.0.0/8"), false, "IPv4 loopback is never forwarded"},
	{netip.MustParsePrefix("224.0.0.0/4"), false, "IPv4 multicast is not forwarded as unicast"},
	{netip.MustParsePrefix("255.255.255.255/32"), false, "IPv4 limited broadcast is never forwarded"},
	{labNet4, false, "the lab's own IPv4 addresses"},
	{netip.MustParsePrefix("::/128"), true, "the IPv6 unspecified address is never a forwarded source"},
	{netip.MustParsePrefix("::1/128"), false, "IPv6 loopback is never forwarded"},
	{netip.MustParsePrefix("fe80::/10"), false, "IPv6 link-local is not forwarded"},
	{netip.MustParsePrefix("ff00::/8"), false, "IPv6 multicast is not forwarded as unicast"},
	{labNet6, false, "the lab's own IPv6 addresses"},
}

// Probeable reports whether f can be sent as a real packet whose fate
// depends on the ruleset alone, or says why not.
func Probeable(f firewall.Flow) string {
	switch {
	case !f.Source.IsValid() || !f.Destination.IsValid() || f.Source.Zone() != "" || f.Destination.Zone() != "":
		return "an address is not valid"
	case f.Source.Is4() != f.Destination.Is4():
		return "the addresses are of two families"
	case f.Protocol == firewall.ICMP && !f.Source.Is4(), f.Protocol == firewall.ICMPv6 && f.Source.Is4():
		return "icmp is IPv4's and icmpv6 IPv6's"
	case f.Protocol.HasPorts() && (f.SourcePort == 0 || f.DestinationPort == 0):
		return "port 0"
	case f.Protocol != firewall.TCP && f.Protocol != firewall.UDP && f.Protocol != firewall.ICMP && f.Protocol != firewall.ICMPv6:
		return "protocol " + string(f.Protocol)
	}
	if why := Excluded(f.Source, true); why != "" {
		return "source: " + why
	}
	if why := Excluded(f.Destination, false); why != "" {
		return "destination: " + why
	}
	return ""
}

// prober holds the lab's raw sockets: one to send from the client, one to
// capture at the client (for resets and ICMP errors), one at the server.
type prober struct {
	send, client, server int
	sendServer           int // sends replies from the server side
	ifClient, ifServer   int
	gen                  uint16
}

const maxBatch = 4096 // flows per Probe: the tag keeps 12 bits for the index

func (l *Lab) prober() (*prober, error) {
	p := &prober{send: -1, client: -1, server: -1, sendServer: -1}
	err := inNetns(l.Client, func() error {
		ifc, err := net.InterfaceByName("c0")
		if err != nil {
			return err
		}
		p.ifClient = ifc.Index
		if p.send, err = packetSocket(ifc.Index, 0); err != nil {
			return err
		}
		p.client, err = packetSocket(ifc.Index, unix.ETH_P_ALL)
		return err
	})
	if err == nil {
		err = inNetns(l.Server, func() error {
			ifc, err := net.InterfaceByName("s1")
			if err != nil {
				return err
			}
			p.ifServer = ifc.Index
			if p.sendServer, err = packetSocket(ifc.Index, 0); err != nil {
				return err
			}
			p.server, err = packetSocket(ifc.Index, unix.ETH_P_ALL)
			return err
		})
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("lab sockets: %w", err)
	}
	return p, nil
}

func (p *prober) close() {
	for _, fd := range []int{p.send, p.client, p.server, p.sendServer} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func packetSocket(ifindex int, proto uint16) (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind packet socket: %w", err)
	}
	if proto != 0 {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
		tv := unix.NsecToTimeval((20 * time.Millisecond).Nanoseconds())
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("receive timeout: %w", err)
		}
	}
	return fd, nil
}

// Probe sends one packet per flow from the client (TCP SYN, UDP datagram,
// ICMP echo request), all at once, waits until nothing more has been seen
// for quiet, and returns each flow's verdict. Every flow must be
// Probeable, and at most 4096 go in one call.
func (l *Lab) Probe(flows []firewall.Flow, quiet time.Duration) ([]Verdict, error) {
	return l.probe(flows, false, quiet)
}

// ProbeReplies sends, from the server, the reply each flow's destination
// would send (TCP SYN-ACK acknowledging Probe's SYN, UDP the other way, ICMP
// echo reply), and reports which arrived at the client. After Probe, with
// a stateful ruleset, replies to the flows that arrived pass whatever the
// rules say of the reversed flow.
func (l *Lab) ProbeReplies(flows []firewall.Flow, quiet time.Duration) ([]bool, error) {
	vs, err := l.probe(flows, true, quiet)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(vs))
	for i, v := range vs {
		out[i] = v == Arrived
	}
	return out, nil
}

func (l *Lab) probe(flows []firewall.Flow, reply bool, quiet time.Duration) ([]Verdict, error) {
	if len(flows) > maxBatch {
		return nil, fmt.Errorf("probe: %d flows, at most %d per call", len(flows), maxBatch)
	}
	if l.p == nil {
		p, err := l.prober()
		if err != nil {
			return nil, err
		}
		l.p = p
		l.t.Cleanup(p.close)
	}
	p := l.p
	if !reply { // a reply reuses the tags of the flows it answers
		p.gen = (p.gen + 1) & 0xf
	}
	tagBase := p.gen << 12

	var mu sync.Mutex
	seen := make([]struct{ arrived, rst, icmp, other bool }, len(flows))
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var stop atomic.Bool
	var wg sync.WaitGroup
	reader := func(fd int, atServer bool) {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				if stop.Load() {
					return
				}
				continue // the receive timeout, or EINTR
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				continue
			}
			i, kind := classify(buf[:n], flows, tagBase, atServer, reply)
			if i < 0 {
				continue
			}
			last.Store(time.Now().UnixNano())
			mu.Lock()
			switch kind {
			case Arrived:
				seen[i].arrived = true
			case RejectedRST:
				seen[i].rst = true
			case RejectedICMP:
				seen[i].icmp = true
			default:
				seen[i].other = true
			}
			mu.Unlock()
		}
	}
	dst := &unix.SockaddrLinklayer{Ifindex: p.ifClient, Halen: 6}
	copy(dst.Addr[:], macFwClient[:])
	sendFd := p.send
	if reply {
		wg.Add(1)
		go reader(p.client, true) // replies arrive at the client
		dst = &unix.SockaddrLinklayer{Ifindex: p.ifServer, Halen: 6}
		copy(dst.Addr[:], macFwServer[:])
		sendFd = p.sendServer
	} else {
		wg.Add(2)
		go reader(p.client, false)
		go reader(p.server, true)
	}
	var sendErr error
	frame := make([]byte, 0, 128)
	for i, f := range flows {
		frame = buildFrame(frame[:0], f, tagBase|uint16(i), reply)
		if err := unix.Sendto(sendFd, frame, 0, dst); err != nil {
			sendErr = fmt.Errorf("send flow %d: %w", i, err)
			break
		}
	}
	last.Store(time.Now().UnixNano())
	for time.Since(time.Unix(0, last.Load())) < quiet {
		time.Sleep(quiet / 10)
	}
	stop.Store(true)
	wg.Wait()
	if sendErr != nil {
		return nil, sendErr
	}
	out := make([]Verdict, len(flows))
	for i, s := range seen {
		n := 0
		for _, b := range []bool{s.arrived, s.rst, s.icmp, s.other} {
			if b {
				n++
			}
		}
		switch {
		case n == 0:
			out[i] = Dropped
		case n > 1 || s.other:
			out[i] = Confused
		case s.arrived:
			out[i] = Arrived
		case s.rst:
			out[i] = RejectedRST
		default:
			out[i] = RejectedICMP
		}
	}
	return out, nil
}

var errShort = errors.New("short packet")

// buildFrame appends an Ethernet frame carrying f, tagged so that what
// comes of it can be traced back: the tag is the IPv4 id or IPv6 flow
// label (kept by forwarding and quoted by ICMP errors), the TCP sequence
// number (acknowledged by a reset), and the ICMP echo id.
func buildFrame(b []byte, f firewall.Flow, tag uint16, reply bool) []byte {
	flags := byte(0x02) // SYN
	var ack uint32
	echo4, echo6 := byte(8), byte(128) // echo request
	if reply {
		b = append(b, macFwServer[:]...)
		b = append(b, macServer[:]...)
		f.Source, f.Destination = f.Destination, f.Source
		f.SourcePort, f.DestinationPort = f.DestinationPort, f.SourcePort
		flags, ack = 0x12, uint32(tag)+1 // SYN-ACK of the SYN whose sequence was the tag
		echo4, echo6 = 0, 129
	} else {
		b = append(b, macFwClient[:]...)
		b = append(b, macClient[:]...)
	}
	var l4 []byte
	var proto byte
	switch f.Protocol {
	case firewall.TCP:
		proto = 6
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4[0:], f.SourcePort)
		binary.BigEndian.PutUint16(l4[2:], f.DestinationPort)
		binary.BigEndian.PutUint32(l4[4:], uint32(tag))
		binary.BigEndian.PutUint32(l4[8:], ack)
		l4[12] = 5 << 4
		l4[13] = flags
		binary.BigEndian.PutUint16(l4[14:], 65535)
	case firewall.UDP:
		proto = 17
		l4 = make([]byte, 12)
		binary.BigEndian.PutUint16(l4[0:], f.SourcePort)
		binary.BigEndian.PutUint16(l4[2:], f.DestinationPort)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		binary.BigEndian.PutUint16(l4[8:], tag)
	case firewall.ICMP, firewall.ICMPv6:
		l4 = make([]byte, 12)
		proto = 1
		l4[0] = echo4
		if f.Protocol == firewall.ICMPv6 {
			proto = 58
			l4[0] = echo6
		}
		binary.BigEndian.PutUint16(l4[4:], tag)
		binary.BigEndian.PutUint16(l4[6:], tag)
	}
	src, dst := f.Source.AsSlice(), f.Destination.AsSlice()
	if f.Source.Is4() {
		b = append(b, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
		binary.BigEndian.PutUint16(ip[4:], tag)
		ip[8] = 64
		ip[9] = proto
		copy(ip[12:], src)
		copy(ip[16:], dst)
		binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))
		b = append(b, ip...)
	} else {
		b = append(b, 0x86, 0xdd)
		ip := make([]byte, 40)
		binary.BigEndian.PutUint32(ip[0:], 6<<28|uint32(tag))
		binary.BigEndian.PutUint16(ip[4:], uint16(len(l4)))
		ip[6] = proto
		ip[7] = 64
		copy(ip[8:], src)
		copy(ip[24:], dst)
		b = append(b, ip...)
	}
	// Transport checksum: over a pseudo header, except for ICMPv4.
	var sum uint32
	if proto != 1 {
		sum = pseudoSum(src, dst, proto, len(l4))
	}
	off := map[byte]int{6: 16, 17: 6, 1: 2, 58: 2}[proto]
	cs := checksum(sum, l4)
	if proto == 17 && cs == 0 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(l4[off:], cs)
	return append(b, l4...)
}

func pseudoSum(src, dst []byte, proto byte, n int) uint32 {
	var sum uint32
	for _, a := range [][]byte{src, dst} {
		for i := 0; i < len(a); i += 2 {
			sum += uint32(a[i])<<8 | uint32(a[i+1])
		}
	}
	return sum + uint32(proto) + uint32(n)
}

func checksum(sum uint32, b []byte) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ipHeader is the part of a parsed IP header the classifier needs.
type ipHeader struct {
	src, dst netip.Addr
	proto    byte
	tag      uint16
	payload  []byte
}

func parseIP(b []byte, v6 bool) (ipHeader, error) {
	var h ipHeader
	if !v6 {
		if len(b) < 20 || b[0]>>4 != 4 {
			return h, errShort
		}
		ihl := int(b[0]&0xf) * 4
		if len(b) < ihl {
			return h, errShort
		}
		h.src = netip.AddrFrom4([4]byte(b[12:16]))
		h.dst = netip.AddrFrom4([4]byte(b[16:20]))
		h.proto, h.tag, h.payload = b[9], binary.BigEndian.Uint16(b[4:]), b[ihl:]
		return h, nil
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return h, errShort
	}
	h.src = netip.AddrFrom16([16]byte(b[8:24]))
	h.dst = netip.AddrFrom16([16]byte(b[24:40]))
	h.proto, h.tag, h.payload = b[6], uint16(binary.BigEndian.Uint32(b[0:])&0xfffff), b[40:]
	return h, nil
}

// classify maps a captured frame to the flow it comes of, and what it
// says: at the server, an arrival; at the client, a reset or an ICMP
// error. Frames of nothing of ours give -1.
func classify(frame []byte, flows []firewall.Flow, tagBase uint16, atServer, reply bool) (int, Verdict) {
	if len(frame) < 14 {
		return -1, ""
	}
	var v6 bool
	switch binary.BigEndian.Uint16(frame[12:]) {
	case 0x0800:
	case 0x86dd:
		v6 = true
	default:
		return -1, ""
	}
	h, err := parseIP(frame[14:], v6)
	if err != nil {
		return -1, ""
	}
	index := func(tag uint16) int {
		if tag&0xf000 != tagBase {
			return -1
		}
		i := int(tag & 0xfff)
		if i >= len(flows) {
			return -1
		}
		return i
	}
	if atServer {
		i := index(h.tag)
		if i < 0 {
			return -1, ""
		}
		src, dst := flows[i].Source, flows[i].Destination
		if reply {
			src, dst = dst, src
		}
		if src != h.src || dst != h.dst {
			return -1, ""
		}
		return i, Arrived
	}
	switch {
	case h.proto == 6 && len(h.payload) >= 20 && h.payload[13]&0x04 != 0: // RST
		ack := binary.BigEndian.Uint32(h.payload[8:])
		i := index(uint16(ack - 1))
		if i < 0 {
			return -1, ""
		}
		f := flows[i]
		if f.Protocol != firewall.TCP || f.Source != h.dst || f.Destination != h.src ||
			binary.BigEndian.Uint16(h.payload[0:]) != f.DestinationPort || binary.BigEndian.Uint16(h.payload[2:]) != f.SourcePort {
			return -1, ""
		}
		return i, RejectedRST
	case !v6 && h.proto == 1 && len(h.payload) >= 8, v6 && h.proto == 58 && len(h.payload) >= 8:
		typ, code := h.payload[0], h.payload[1]
		if (!v6 && typ != 3 && typ != 11 && typ != 12) || (v6 && (typ >= 128)) {
			return -1, "" // not an error message
		}
		inner, err := parseIP(h.payload[8:], v6)
		if err != nil {
			return -1, ""
		}
		i := index(inner.tag)
		if i < 0 || flows[i].Source != inner.src || flows[i].Destination != inner.dst {
			return -1, ""
		}
		if (!v6 && typ == 3 && code == 13) || (v6 && typ == 1 && code == 1) {
			return i, RejectedICMP
		}
		return i, Confused
	}
	return -1, ""
}
