package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// byteReader hands out fuzz bytes; past the end it returns zeros.
type byteReader struct{ b []byte }

func (r *byteReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *byteReader) n(k int) int { return int(r.byte()) % k }

func (r *byteReader) u16() uint16 { return uint16(r.byte())<<8 | uint16(r.byte()) }

// A few networks close to each other, so that fuzzed prefixes overlap.
var fuzzBases = []netip.Addr{
	netip.MustParseAddr("10.0.0.0"), netip.MustParseAddr("10.0.1.0"), netip.MustParseAddr("10.255.255.255"),
	netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("192.168.1.128"),
	netip.MustParseAddr("2001:db8::"), netip.MustParseAddr("2001:db8::ff"), netip.MustParseAddr("::"),
	netip.MustParseAddr("::ffff:10.0.0.0"), netip.MustParseAddr("ffff::"),
}

// addr returns an address near the bases: a base with its last byte
// replaced, and now and then an odd one.
func (r *byteReader) addr() netip.Addr {
	switch r.n(16) {
	case 0:
		return netip.Addr{}
	case 1:
		return netip.MustParseAddr("fe80::1").WithZone("eth0")
	}
	b := fuzzBases[r.n(len(fuzzBases))].AsSlice()
	b[len(b)-1] = r.byte()
	if r.n(2) == 0 {
		b[len(b)-2] = r.byte()
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func (r *byteReader) prefixes() []netip.Prefix {
	n := r.n(4)
	if n == 3 {
		n = 0
	}
	var out []netip.Prefix
	for range n {
		if r.n(32) == 0 {
			out = append(out, netip.Prefix{})
			continue
		}
		a := r.addr()
		if !a.IsValid() || a.Zone() != "" {
			a = fuzzBases[0]
		}
		p := netip.PrefixFrom(a, r.n(a.BitLen()+1))
		if r.n(8) != 0 {
			p = p.Masked()
		}
		out = append(out, p)
	}
	return out
}

func (r *byteReader) ports() []firewall.PortRange {
	var out []firewall.PortRange
	for range r.n(3) {
		lo := r.u16() % 2048
		out = append(out, firewall.PortRange{Low: lo, High: lo + uint16(r.n(4))*uint16(r.byte())})
	}
	return out
}

// fuzzTree builds a small firewall from the fuzz bytes.
func fuzzTree(r *byteReader) firewall.Tree {
	actions := []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject, firewall.Next, ""}
	protos := []firewall.Protocol{firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6, "", "sctp"}
	expiries := []*time.Time{nil, nil, fwgen.PtrTime(fwgen.Now.Add(-time.Hour)), fwgen.PtrTime(fwgen.Now), fwgen.PtrTime(fwgen.Now.Add(time.Nanosecond))}
	f := firewall.NewFirewall()
	f.ID, f.DefaultAction, f.Revision = "fw", actions[r.n(len(actions))], int64(r.byte())
	t := firewall.Tree{Firewall: f}
	for pi := range 1 + r.n(4) {
		p := firewall.NewPolicy()
		p.ID, p.Name = fmt.Sprintf("p%d", pi), fmt.Sprintf("policy %d", pi)
		p.Priority, p.Enabled, p.DefaultAction = r.n(8), r.n(6) != 0, actions[r.n(len(actions))]
		pt := firewall.PolicyTree{Policy: p}
		for ri := range r.n(7) {
			rule := firewall.NewRule()
			rule.ID = fmt.Sprintf("p%dr%d", pi, ri)
			rule.Position = r.n(8)
			rule.Action = actions[r.n(len(actions))]
			rule.Protocol = protos[r.n(len(protos))]
			rule.Enabled = r.n(8) != 0
			rule.ExpiresAt = expiries[r.n(len(expiries))]
			rule.Sources = r.prefixes()
			rule.Destinations = r.prefixes()
			if rule.Protocol.HasPorts() || r.n(8) == 0 {
				rule.SourcePorts = r.ports()
				rule.DestinationPorts = r.ports()
			}
			pt.Rules = append(pt.Rules, rule)
		}
		t.Policies = append(t.Policies, pt)
	}
	return t
}

func fuzzFlow(r *byteReader) firewall.Flow {
	protos := []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6, "sctp"}
	f := firewall.Flow{Protocol: protos[r.n(len(protos))], Source: r.addr(), Destination: r.addr()}
	f.SourcePort, f.DestinationPort = r.u16()%2100, r.u16()%2100
	return f
}

// FuzzCompileEvaluate builds a small firewall and flows from the fuzz
// input, and checks the matcher against the linear reference, decision and
// explained path.
func FuzzCompileEvaluate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("firewall policy rule flow 10.0.0.0/8 2001:db8::/32 tcp 443 1024-65535"))
	f.Add([]byte{1, 7, 3, 1, 1, 0, 6, 1, 1, 1, 0, 0, 0, 1, 5, 9, 0, 1, 0, 2, 0, 0, 1, 187, 0, 0, 1, 187, 0, 0, 1, 0, 0, 5, 1, 187})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &byteReader{b: data}
		tree := fuzzTree(r)
		ref := newRef(&tree)
		m, err := Compile(tree)
		if !ref.valid() {
			if err == nil {
				t.Fatalf("Compile accepted firewall default %q", tree.Firewall.DefaultAction)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// The same firewall with every span of more than two entries split
		// by protocol and destination port.
		split, err := compile(tree, 2)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 16 && (i == 0 || len(r.b) > 0); i++ {
			fl := fuzzFlow(r)
			now := []time.Time{fwgen.Now, fwgen.Now.Add(-time.Minute)}[i%2]
			want := ref.evaluate(fl, now)
			for _, m := range []*Matcher{m, split} {
				got := m.Evaluate(fl, now, true)
				if !sameDecision(got, want) {
					t.Fatalf("flow %+v at %v:\n got %+v\nwant %+v", fl, now, got, want)
				}
				if diff := cmp.Diff(ref.explain(fl, now), got.Path); diff != "" {
					t.Fatalf("flow %+v: path (-want +got):\n%s", fl, diff)
				}
			}
		}
	})
}
