package analysis

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// isPacket reports whether f is a flow of the header space: one family,
// icmp on IPv4 and icmpv6 on IPv6 only, ports 1–65535 on tcp and udp.
func isPacket(f firewall.Flow) bool {
	if !f.Source.IsValid() || !f.Destination.IsValid() || f.Source.Zone() != "" || f.Destination.Zone() != "" || f.Source.Is4() != f.Destination.Is4() {
		return false
	}
	switch f.Protocol {
	case firewall.TCP, firewall.UDP:
		return f.SourcePort >= 1 && f.DestinationPort >= 1
	case firewall.ICMP:
		return f.Source.Is4()
	case firewall.ICMPv6:
		return !f.Source.Is4()
	}
	return false
}

// fuzzBytes reads a header space, a target and invert from data, drawing
// prefixes and ports near the tree's.
func fuzzQuery(data []byte, tr *firewall.Tree) (Space, Target, bool) {
	var seed [32]byte
	copy(seed[:], data)
	r := rand.New(rand.NewChaCha8(seed))
	sp := randomSpace(r, tr)
	if len(data) > 32 {
		// Raw prefixes and ports from the rest of the input.
		rest := data[32:]
		for len(rest) >= 6 {
			a := netip.AddrFrom4([4]byte{rest[0], rest[1], rest[2], rest[3]})
			p := netip.PrefixFrom(a, int(rest[4])%33).Masked()
			switch rest[5] % 4 {
			case 0:
				sp.Sources = append(sp.Sources, p)
			case 1:
				sp.SourcesExcept = append(sp.SourcesExcept, p)
			case 2:
				sp.Destinations = append(sp.Destinations, p)
			default:
				lo := binary.BigEndian.Uint16(rest[0:2])%65535 + 1
				hi := max(lo, binary.BigEndian.Uint16(rest[2:4]))
				sp.DestinationPorts = append(sp.DestinationPorts, firewall.PortRange{Low: lo, High: hi})
			}
			rest = rest[6:]
		}
	}
	return sp, randomTarget(r, tr), r.IntN(3) == 0
}

// FuzzSearch checks search on any query: no panic, an example in the space
// with the decision asked for, and "none" holding for random flows.
func FuzzSearch(f *testing.F) {
	f.Add(uint64(1), []byte("seed"))
	f.Add(uint64(2), []byte("0123456789abcdef0123456789abcdef\x0a\x00\x00\x00\x08\x00\xc0\xa8\x01\x00\x18\x01"))
	f.Add(uint64(3), []byte{})
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		r := rand.New(rand.NewPCG(seed, 1))
		tr := fwgen.NewAdversarial(r, seed%3 == 0).Tree(3, 1+r.IntN(8))
		em, err := engine.Compile(tr)
		if err != nil {
			return
		}
		m, err := New(tr, fwgen.Now)
		if err != nil {
			t.Fatal(err)
		}
		sp, target, invert := fuzzQuery(data, &tr)
		res, err := m.Search(sp, target, invert)
		if err != nil {
			t.Fatal(err)
		}
		if res.Exists {
			f := res.Example.Flow
			if got := em.Evaluate(f, fwgen.Now, false); !isPacket(f) || refInSpace(&sp, f) == invert || !refTarget(target, got) {
				t.Fatalf("example %+v decided %+v: outside the space or misses %+v", f, got, target)
			}
			return
		}
		flows := fwgen.NewFlows(r, &tr, false)
		for range 500 {
			f := flows.Flow()
			if isPacket(f) && refInSpace(&sp, f) != invert && refTarget(target, em.Evaluate(f, fwgen.Now, false)) {
				t.Fatalf("search says none, but %+v is in the space and decided as %+v", f, target)
			}
		}
	})
}

// FuzzCompare checks compare on random edits: no panic, every region's
// example changes as the region says, and every random flow whose action
// changes lies in a region.
func FuzzCompare(f *testing.F) {
	f.Add(uint64(1), uint64(1))
	f.Add(uint64(7), uint64(99))
	f.Fuzz(func(t *testing.T, seed, edit uint64) {
		r := rand.New(rand.NewPCG(seed, 2))
		g := fwgen.NewAdversarial(r, false)
		a := g.Tree(3, 1+r.IntN(8))
		b := mutate(rand.New(rand.NewPCG(edit, 3)), a, g.Tree(1, 3))
		ea, err1 := engine.Compile(a)
		eb, err2 := engine.Compile(b)
		if err1 != nil || err2 != nil {
			return
		}
		ma, _ := New(a, fwgen.Now)
		mb, _ := New(b, fwgen.Now)
		cmp, err := Compare(ma, mb, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, reg := range cmp.Regions {
			got[regionKey(reg.Old, reg.New)] = true
			da, db := ea.Evaluate(reg.Example, fwgen.Now, false), eb.Evaluate(reg.Example, fwgen.Now, false)
			if !sameDecision(da, reg.Old) || !sameDecision(db, reg.New) || da.Action == db.Action {
				t.Fatalf("region example %+v: %+v → %+v, region says %+v → %+v", reg.Example, da, db, reg.Old, reg.New)
			}
		}
		both := cloneTree(a)
		both.Policies = append(both.Policies, b.Policies...)
		flows := fwgen.NewFlows(r, &both, false)
		for range 500 {
			f := flows.Flow()
			if !isPacket(f) {
				continue
			}
			da, db := ea.Evaluate(f, fwgen.Now, false), eb.Evaluate(f, fwgen.Now, false)
			if da.Action != db.Action && !got[regionKey(da, db)] {
				t.Fatalf("%+v changes %+v → %+v, in no region", f, da, db)
			}
		}
	})
}
