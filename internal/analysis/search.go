package analysis

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Space is a header space: the flows whose protocol is one of Protocols,
// whose source lies in Sources but not in SourcesExcept, whose destination
// lies in Destinations but not in DestinationsExcept, and whose ports lie
// in the port lists. An empty list is any; "any" among the protocols is
// every protocol. Only tcp and udp flows have ports, so a space with ports
// holds no icmp or icmpv6 flow.
type Space struct {
	Protocols          []firewall.Protocol
	Sources            []netip.Prefix
	SourcesExcept      []netip.Prefix
	Destinations       []netip.Prefix
	DestinationsExcept []netip.Prefix
	SourcePorts        []firewall.PortRange
	DestinationPorts   []firewall.PortRange
}

// Target is the decision a search looks for: every field set must hold.
type Target struct {
	Action    firewall.Action    // "" for any action
	RuleID    string             // "" for any rule (or none)
	DecidedBy firewall.DecidedBy // "" for anything
}

// SearchResult is one flow with the decision asked for, or the guarantee
// that there is none.
type SearchResult struct {
	Exists  bool
	Example *Example
}

// validate checks a space and a target; the caller names the fields.
func (sp *Space) validate() error {
	for _, p := range sp.Protocols {
		switch p {
		case firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6:
		default:
			return fmt.Errorf("analysis: unknown protocol %q", p)
		}
	}
	for _, l := range [][]netip.Prefix{sp.Sources, sp.SourcesExcept, sp.Destinations, sp.DestinationsExcept} {
		for _, p := range l {
			if !p.IsValid() {
				return fmt.Errorf("analysis: invalid prefix in the space")
			}
		}
	}
	for _, l := range [][]firewall.PortRange{sp.SourcePorts, sp.DestinationPorts} {
		for _, r := range l {
			if r.Low < 1 || r.Low > r.High {
				return fmt.Errorf("analysis: invalid port range %d-%d", r.Low, r.High)
			}
		}
	}
	return nil
}

// shapes returns the space within class c as disjoint shapes (none when
// it holds no flow of the class); with invert, the rest of the class.
func (sp *Space) shapes(c class, invert bool) []*shape {
	in := sp.shape(c)
	if !invert {
		if in == nil {
			return nil
		}
		return []*shape{in}
	}
	if in == nil {
		return []*shape{fullShape(c)}
	}
	// The complement of a cross product X0×X1×X2×X3 is the disjoint union
	// of ¬X0×U×U×U, X0×¬X1×U×U, X0×X1×¬X2×U and X0×X1×X2×¬X3.
	full := c.full()
	var out []*shape
	for d := range nDims {
		rest := complement(in[d], full[d])
		if len(rest) == 0 {
			continue
		}
		s := &shape{}
		for e := range nDims {
			switch {
			case e < d:
				s[e] = in[e]
			case e == d:
				s[e] = rest
			default:
				s[e] = []iv{full[e]}
			}
		}
		out = append(out, s)
	}
	return out
}

func (sp *Space) shape(c class) *shape {
	if len(sp.Protocols) > 0 && !slices.Contains(sp.Protocols, c.protocol()) && !slices.Contains(sp.Protocols, firewall.AnyProtocol) {
		return nil
	}
	ports := len(sp.SourcePorts) > 0 || len(sp.DestinationPorts) > 0
	if ports && !c.hasPorts() {
		return nil
	}
	src, ok1 := addrList(sp.Sources, c.v6())
	dst, ok2 := addrList(sp.Destinations, c.v6())
	if !ok1 || !ok2 {
		return nil
	}
	exS, _ := addrList(sp.SourcesExcept, c.v6())
	exD, _ := addrList(sp.DestinationsExcept, c.v6())
	if len(sp.SourcesExcept) > 0 {
		src = subtract(src, exS)
	}
	if len(sp.DestinationsExcept) > 0 {
		dst = subtract(dst, exD)
	}
	if len(src) == 0 || len(dst) == 0 {
		return nil
	}
	s := &shape{src, dst, {noPorts}, {noPorts}}
	if c.hasPorts() {
		s[dimSport], _ = portList(sp.SourcePorts)
		s[dimDport], _ = portList(sp.DestinationPorts)
	}
	return s
}

// matches reports whether item i makes a decision the target asks for.
func (m *Model) matches(i int32, t Target) bool {
	if int(i) >= len(m.items) {
		return false
	}
	d := m.decision(int(i))
	return (t.Action == "" || d.Action == t.Action) && (t.RuleID == "" || d.RuleID == t.RuleID) &&
		(t.DecidedBy == "" || d.DecidedBy == t.DecidedBy)
}

// Search finds one flow in the space (outside it, with invert) that the
// firewall decides as the target asks, or says that none exists. It is
// exact: "exists: false" holds for every flow of the space.
func (m *Model) Search(sp Space, t Target, invert bool) (SearchResult, error) {
	if err := sp.validate(); err != nil {
		return SearchResult{}, err
	}
	var buf []int32
	sc := newScratch(len(m.items))
	for c := range nClasses {
		regions := sp.shapes(c, invert)
		if len(regions) == 0 {
			continue
		}
		x := m.index(c)
		w := m.walker(c)
		// A shape of its own stands for the target item within the region,
		// so that the walk ends there.
		self := int32(len(w.shapes))
		sw := &walker{shapes: append(w.shapes[:self:self], nil)}
		for _, it := range m.cands[c] {
			if !m.matches(it, t) {
				continue
			}
			for _, q := range regions {
				r := intersectShapes(w.shapes[it], q)
				if r == nil {
					continue
				}
				buf = x.candidates(sc, r, w.shapes, 0, it, buf)
				sw.shapes[self] = r
				buf = append(buf, self)
				var found box
				ok := false
				sw.regionWalk(r, buf, func(b box, cands []int32) bool {
					if cands[0] == self {
						found, ok = b, true
						return false
					}
					return true
				})
				if ok {
					ex, err := m.confirm(c.flow(sample(&found)), int(it))
					if err != nil {
						return SearchResult{}, err
					}
					return SearchResult{Exists: true, Example: &ex}, nil
				}
			}
		}
	}
	return SearchResult{}, nil
}

// intersectShapes returns the points both shapes hold, or nil.
func intersectShapes(a, b *shape) *shape {
	var s shape
	for d := range nDims {
		var l []iv
		i, j := 0, 0
		for i < len(a[d]) && j < len(b[d]) {
			x, y := a[d][i], b[d][j]
			lo, hi := maxU(x.lo, y.lo), minU(x.hi, y.hi)
			if !hi.less(lo) {
				l = append(l, iv{lo, hi})
			}
			if x.hi.less(y.hi) {
				i++
			} else {
				j++
			}
		}
		if len(l) == 0 {
			return nil
		}
		s[d] = l
	}
	return &s
}
