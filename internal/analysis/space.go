package analysis

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
)

// u128 is a value of one dimension: an address (IPv4 in the low 32 bits)
// or a port.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) addOne() u128 {
	if a.lo == ^uint64(0) {
		return u128{a.hi + 1, 0}
	}
	return u128{a.hi, a.lo + 1}
}

func (a u128) subOne() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

func maxU(a, b u128) u128 {
	if a.less(b) {
		return b
	}
	return a
}

func minU(a, b u128) u128 {
	if a.less(b) {
		return a
	}
	return b
}

// iv is an inclusive interval of one dimension.
type iv struct{ lo, hi u128 }

// The dimensions of a box.
const (
	dimSrc = iota
	dimDst
	dimSport
	dimDport
	nDims
)

// box is a hyper-rectangle of one class: a cross product of one interval
// per dimension. It is never empty.
type box [nDims]iv

// class is a family and protocol: within one class every dimension is an
// integer range, and every flow of the class is a packet that can exist.
type class uint8

// The classes. ICMP is IPv4 only and ICMPv6 IPv6 only; flows with mixed
// families are no packet at all.
const (
	v4TCP class = iota
	v4UDP
	v4ICMP
	v6TCP
	v6UDP
	v6ICMP
	nClasses
)

func (c class) v6() bool { return c >= v6TCP }

func (c class) hasPorts() bool { return c != v4ICMP && c != v6ICMP }

func (c class) protocol() firewall.Protocol {
	switch c {
	case v4TCP, v6TCP:
		return firewall.TCP
	case v4UDP, v6UDP:
		return firewall.UDP
	case v4ICMP:
		return firewall.ICMP
	}
	return firewall.ICMPv6
}

var (
	allV4    = iv{u128{}, u128{0, 1<<32 - 1}}
	allV6    = iv{u128{}, u128{^uint64(0), ^uint64(0)}}
	allPorts = iv{u128{0, 1}, u128{0, 65535}} // port 0 is no flow the domain can name
	noPorts  = iv{}                           // flows without ports carry 0
)

// full returns the whole space of class c.
func (c class) full() box {
	a, p := allV4, allPorts
	if c.v6() {
		a = allV6
	}
	if !c.hasPorts() {
		p = noPorts
	}
	return box{a, a, p, p}
}

// shape is a cross product of one union of intervals per dimension, each
// sorted, disjoint and not adjacent: the match set of a rule (or a search
// space) within one class. A box lies inside a shape exactly when each of
// its intervals lies inside one interval of the same dimension.
type shape [nDims][]iv

// fullShape returns the shape of the whole class.
func fullShape(c class) *shape {
	b := c.full()
	return &shape{{b[0]}, {b[1]}, {b[2]}, {b[3]}}
}

// first returns the index of the first interval of l that ends at or after x.
func first(l []iv, x u128) int {
	if len(l) <= 8 {
		for i := range l {
			if !l[i].hi.less(x) {
				return i
			}
		}
		return len(l)
	}
	lo, hi := 0, len(l)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if l[m].hi.less(x) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Relations of a shape to a box.
const (
	disjoint = iota
	partial
	covers
)

// relate says whether s misses b, covers it, or cuts it; for a cut it
// returns a dimension and a value strictly inside b's interval there at
// which one of s's intervals starts or ends.
func (s *shape) relate(b *box) (rel int, dim int, at u128) {
	dim = -1
	for d := range nDims {
		l := s[d]
		x := b[d]
		i := first(l, x.lo)
		if i == len(l) || x.hi.less(l[i].lo) {
			return disjoint, 0, u128{}
		}
		if dim >= 0 {
			continue
		}
		if x.lo.less(l[i].lo) {
			dim, at = d, l[i].lo
		} else if l[i].hi.less(x.hi) {
			dim, at = d, l[i].hi.addOne()
		}
	}
	if dim >= 0 {
		return partial, dim, at
	}
	return covers, 0, u128{}
}

// meets reports whether s and b share a point.
func (s *shape) meets(b *box) bool {
	for d := range nDims {
		l := s[d]
		i := first(l, b[d].lo)
		if i == len(l) || b[d].hi.less(l[i].lo) {
			return false
		}
	}
	return true
}

// holds reports whether every point of o lies in s.
func (s *shape) holds(o *shape) bool {
	for d := range nDims {
		for _, x := range o[d] {
			l := s[d]
			i := first(l, x.lo)
			if i == len(l) || x.lo.less(l[i].lo) || l[i].hi.less(x.hi) {
				return false
			}
		}
	}
	return true
}

// key is s as a string, equal for equal shapes.
func (s *shape) key() string {
	var b []byte
	for d := range nDims {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s[d])))
		for _, x := range s[d] {
			b = binary.BigEndian.AppendUint64(b, x.lo.hi)
			b = binary.BigEndian.AppendUint64(b, x.lo.lo)
			b = binary.BigEndian.AppendUint64(b, x.hi.hi)
			b = binary.BigEndian.AppendUint64(b, x.hi.lo)
		}
	}
	return string(b)
}

// listsMeet reports whether two sorted interval lists share a point.
func listsMeet(a, b []iv) bool {
	if len(a) == 1 && len(b) == 1 {
		return !a[0].hi.less(b[0].lo) && !b[0].hi.less(a[0].lo)
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].hi.less(b[j].lo):
			i++
		case b[j].hi.less(a[i].lo):
			j++
		default:
			return true
		}
	}
	return false
}

// normalize sorts l and merges overlapping and adjacent intervals.
func normalize(l []iv) []iv {
	slices.SortFunc(l, func(a, b iv) int {
		if a.lo == b.lo {
			return 0
		}
		if a.lo.less(b.lo) {
			return -1
		}
		return 1
	})
	n := 0
	for _, x := range l {
		if n > 0 && !out(l[n-1].hi, x.lo) {
			l[n-1].hi = maxU(l[n-1].hi, x.hi)
			continue
		}
		l[n] = x
		n++
	}
	return l[:n]
}

// out reports whether x lies past the end of an interval ending at hi,
// with a gap: hi+1 < x.
func out(hi, x u128) bool {
	return hi != allV6.hi && hi.addOne().less(x)
}

// subtract returns l minus m, both normalized.
func subtract(l, m []iv) []iv {
	var res []iv
	j := 0
	for _, x := range l {
		cur := x
		alive := true
		for j < len(m) && m[j].hi.less(cur.lo) {
			j++
		}
		for k := j; k < len(m) && !cur.hi.less(m[k].lo); k++ {
			if cur.lo.less(m[k].lo) {
				res = append(res, iv{cur.lo, m[k].lo.subOne()})
			}
			if !m[k].hi.less(cur.hi) {
				alive = false
				break
			}
			cur.lo = m[k].hi.addOne()
		}
		if alive {
			res = append(res, cur)
		}
	}
	return res
}

// complement returns the whole interval all minus l (normalized, inside all).
func complement(l []iv, all iv) []iv { return subtract([]iv{all}, l) }

func prefixIV(p netip.Prefix) iv {
	p = p.Masked()
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		lo := uint64(binary.BigEndian.Uint32(b[:]))
		host := uint(32 - p.Bits())
		return iv{u128{0, lo}, u128{0, lo | (1<<host - 1)}}
	}
	b := a.As16()
	lo := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	hi := lo
	host := 128 - p.Bits()
	switch {
	case host >= 128:
		hi = allV6.hi
	case host > 64:
		hi = u128{lo.hi | (1<<(host-64) - 1), ^uint64(0)}
	case host == 64:
		hi.lo = ^uint64(0)
	case host > 0:
		hi.lo |= 1<<host - 1
	}
	return iv{lo, hi}
}

// addrList returns the union of the prefixes of family v6 in ps, and
// whether it can match at all: an empty list is any, and a list none of
// whose prefixes is valid and of the family matches nothing.
func addrList(ps []netip.Prefix, v6 bool) ([]iv, bool) {
	all := allV4
	if v6 {
		all = allV6
	}
	if len(ps) == 0 {
		return []iv{all}, true
	}
	var l []iv
	for _, p := range ps {
		if !p.IsValid() || p.Addr().Is4() == v6 {
			continue
		}
		l = append(l, prefixIV(p))
	}
	l = normalize(l)
	return l, len(l) > 0
}

// portList returns the union of the valid ranges of rs, and whether it can
// match at all (as engine.normPorts).
func portList(rs []firewall.PortRange) ([]iv, bool) {
	if len(rs) == 0 {
		return []iv{allPorts}, true
	}
	var l []iv
	for _, r := range rs {
		if r.Low >= 1 && r.Low <= r.High {
			l = append(l, iv{u128{0, uint64(r.Low)}, u128{0, uint64(r.High)}})
		}
	}
	l = normalize(l)
	return l, len(l) > 0
}

// protocolClasses returns the classes a rule protocol can match.
func protocolClasses(p firewall.Protocol, ports bool) []class {
	switch p {
	case firewall.AnyProtocol:
		if ports {
			return []class{v4TCP, v4UDP, v6TCP, v6UDP}
		}
		return []class{v4TCP, v4UDP, v4ICMP, v6TCP, v6UDP, v6ICMP}
	case firewall.TCP:
		return []class{v4TCP, v6TCP}
	case firewall.UDP:
		return []class{v4UDP, v6UDP}
	case firewall.ICMP:
		if !ports {
			return []class{v4ICMP}
		}
	case firewall.ICMPv6:
		if !ports {
			return []class{v6ICMP}
		}
	}
	return nil
}

// ruleShapes returns the match set of a rule in each class (nil where it
// matches nothing), following the engine's reading of entries the domain
// would refuse: they match nothing. sets holds the rule's lists with its
// groups expanded; services narrow the destination ports within each class
// to the union of theirs, which keeps the set a cross product.
func ruleShapes(r *firewall.Rule, sets ruleSets) [nClasses]*shape {
	var out [nClasses]*shape
	hasPorts := len(r.SourcePorts) > 0 || len(r.DestinationPorts) > 0
	sp, ok1 := portList(r.SourcePorts)
	dp, ok2 := portList(r.DestinationPorts)
	if !ok1 || !ok2 {
		return out
	}
	for _, c := range protocolClasses(r.Protocol, hasPorts) {
		src, ok3 := addrList(sets.src, c.v6())
		dst, ok4 := addrList(sets.dst, c.v6())
		if !ok3 || !ok4 {
			continue
		}
		s := &shape{src, dst, sp, dp}
		if !c.hasPorts() {
			s[dimSport], s[dimDport] = []iv{noPorts}, []iv{noPorts}
		}
		if len(sets.svcs) > 0 {
			s = withServices(s, c, sets.svcs)
		}
		out[c] = s
	}
	return out
}

// point is one flow of a class, as coordinates.
type point [nDims]u128

func addrOf(x u128, v6 bool) netip.Addr {
	if !v6 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(x.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], x.hi)
	binary.BigEndian.PutUint64(b[8:], x.lo)
	return netip.AddrFrom16(b)
}

// flow turns a point of class c into a flow.
func (c class) flow(p point) firewall.Flow {
	f := firewall.Flow{Protocol: c.protocol(), Source: addrOf(p[dimSrc], c.v6()), Destination: addrOf(p[dimDst], c.v6())}
	if c.hasPorts() {
		f.SourcePort, f.DestinationPort = uint16(p[dimSport].lo), uint16(p[dimDport].lo)
	}
	return f
}

// sample returns a point of b, choosing values people recognise: the
// start of each interval, except that a source port is taken high
// (ephemeral) when the box allows.
func sample(b *box) point {
	p := point{b[0].lo, b[1].lo, b[2].lo, b[3].lo}
	if eph := (u128{0, 49152}); !b[dimSport].hi.less(eph) && !eph.less(b[dimSport].lo) {
		p[dimSport] = eph
	}
	return p
}

func cmpU(a, b u128) int {
	return cmp.Or(cmp.Compare(a.hi, b.hi), cmp.Compare(a.lo, b.lo))
}

// meetPoint returns a point both shapes hold, if they share one.
func meetPoint(a, b *shape) (point, bool) {
	var p point
	for d := range nDims {
		found := false
		i, j := 0, 0
		for i < len(a[d]) && j < len(b[d]) && !found {
			x, y := a[d][i], b[d][j]
			switch {
			case x.hi.less(y.lo):
				i++
			case y.hi.less(x.lo):
				j++
			default:
				p[d], found = maxU(x.lo, y.lo), true
			}
		}
		if !found {
			return point{}, false
		}
	}
	return p, true
}
