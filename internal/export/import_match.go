package export

import (
	"math/big"
	"net/netip"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
)

// impFamily is a set of address families, as a bit mask.
type impFamily uint8

const (
	impFam4    impFamily = 1
	impFam6    impFamily = 2
	impFamBoth           = impFam4 | impFam6
)

func (f impFamily) String() string {
	switch f {
	case impFam4:
		return "IPv4"
	case impFam6:
		return "IPv6"
	case impFamBoth:
		return "IPv4 and IPv6"
	}
	return "no impFamily"
}

func impFamilyOf(p netip.Prefix) impFamily {
	if p.Addr().Is4() {
		return impFam4
	}
	return impFam6
}

// The protocols a FireFlow flow can have. Complements of a protocol match
// are taken within this universe, which is exact for every flow FireFlow
// can be asked about.
var impAllProtocols = []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6}

// impMatch is what one statement (or one alternative of it) matches, in
// FireFlow's terms: a conjunction of fields. A nil list means any; an empty
// non-nil list matches nothing.
type impMatch struct {
	fam          impFamily
	protos       []firewall.Protocol
	src, dst     []netip.Prefix
	sport, dport []firewall.PortRange
	// srcSet and dstSet name the nftables named set a side was matched
	// on, while nothing else narrowed it; the rule then refers to the set
	// as an address group (see impBuilder.groups).
	srcSet, dstSet string
}

// none reports whether the match can match no flow at all.
func (m *impMatch) none() bool {
	return m.fam == 0 || impIsEmpty(m.protos) || impIsEmpty(m.src) || impIsEmpty(m.dst) ||
		impIsEmpty(m.sport) || impIsEmpty(m.dport)
}

func impIsEmpty[T any](s []T) bool { return s != nil && len(s) == 0 }

// universal reports whether m matches every flow of the families in fam.
func (m *impMatch) universal(fam impFamily) bool {
	return m.fam&fam == fam && m.protos == nil && m.src == nil && m.dst == nil && m.sport == nil && m.dport == nil
}

// restrictFamily narrows the match to the families in fam, dropping the
// addresses of other families.
func (m *impMatch) restrictFamily(fam impFamily) {
	m.fam &= fam
	m.src = impKeepFamily(m.src, m.fam)
	m.dst = impKeepFamily(m.dst, m.fam)
}

func impKeepFamily(ps []netip.Prefix, fam impFamily) []netip.Prefix {
	if ps == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if impFamilyOf(p)&fam != 0 {
			out = append(out, p)
		}
	}
	return out
}

// setAddrs intersects one address side with ps, which also pins the
// family to that of ps.
func (m *impMatch) setAddrs(side *[]netip.Prefix, ps []netip.Prefix) {
	var fam impFamily
	for _, p := range ps {
		fam |= impFamilyOf(p)
	}
	*side = impIntersectPrefixes(*side, ps)
	m.restrictFamily(fam)
}

// setProtos intersects the protocols with ps.
func (m *impMatch) setProtos(ps []firewall.Protocol) {
	m.protos = impIntersectProtos(m.protos, ps)
}

// impIntersect returns the conjunction of a and b.
func impIntersect(a, b impMatch) impMatch {
	out := impMatch{
		fam:    a.fam & b.fam,
		protos: impIntersectProtos(a.protos, b.protos),
		src:    impIntersectPrefixes(a.src, b.src),
		dst:    impIntersectPrefixes(a.dst, b.dst),
		sport:  impIntersectPorts(a.sport, b.sport),
		dport:  impIntersectPorts(a.dport, b.dport),
		srcSet: impKeepSet(a.srcSet, a.src, b.srcSet, b.src),
		dstSet: impKeepSet(a.dstSet, a.dst, b.dstSet, b.dst),
	}
	out.restrictFamily(out.fam)
	return out
}

// impKeepSet returns the set a side of a conjunction still equals: one
// side's set when the other side is any, else none.
func impKeepSet(aSet string, a []netip.Prefix, bSet string, b []netip.Prefix) string {
	switch {
	case b == nil:
		return aSet
	case a == nil:
		return bSet
	}
	return ""
}

func impIntersectProtos(a, b []firewall.Protocol) []firewall.Protocol {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := []firewall.Protocol{}
	for _, p := range a {
		if slices.Contains(b, p) && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// impIntersectPrefixes intersects two prefix lists. Both become sorted,
// disjoint ranges, intersected in one pass, so that long lists (a
// complemented set) cost their length, not its square.
func impIntersectPrefixes(a, b []netip.Prefix) []netip.Prefix {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	ra, rb := impMergeRanges(impPrefixRanges(a)), impMergeRanges(impPrefixRanges(b))
	var out []impAddrRange
	for i, j := 0, 0; i < len(ra) && j < len(rb); {
		x, y := ra[i], rb[j]
		if x.lo.Is4() != y.lo.Is4() { // IPv4 sorts before IPv6
			if x.lo.Is4() {
				i++
			} else {
				j++
			}
			continue
		}
		lo, hi := x.lo, x.hi
		if y.lo.Compare(lo) > 0 {
			lo = y.lo
		}
		if y.hi.Compare(hi) < 0 {
			hi = y.hi
		}
		if lo.Compare(hi) <= 0 {
			out = append(out, impAddrRange{lo, hi})
		}
		if x.hi.Compare(y.hi) < 0 {
			i++
		} else {
			j++
		}
	}
	return impRangesToPrefixes(out)
}

// impIntersectPorts intersects two port lists in one pass over their
// sorted, merged ranges.
func impIntersectPorts(a, b []firewall.PortRange) []firewall.PortRange {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	ra, rb := impNormalizePorts(a), impNormalizePorts(b)
	out := []firewall.PortRange{}
	for i, j := 0, 0; i < len(ra) && j < len(rb); {
		x, y := ra[i], rb[j]
		if lo, hi := max(x.Low, y.Low), min(x.High, y.High); lo <= hi {
			out = append(out, firewall.PortRange{Low: lo, High: hi})
		}
		if x.High < y.High {
			i++
		} else {
			j++
		}
	}
	return out
}

// impNormalizePorts sorts ranges and merges those that touch or overlap.
func impNormalizePorts(rs []firewall.PortRange) []firewall.PortRange {
	if len(rs) == 0 {
		return rs
	}
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b firewall.PortRange) int { return int(a.Low) - int(b.Low) })
	out := s[:1]
	for _, r := range s[1:] {
		last := &out[len(out)-1]
		if int(r.Low) <= int(last.High)+1 {
			last.High = max(last.High, r.High)
			continue
		}
		out = append(out, r)
	}
	return out
}

// impComplementPorts returns the ports 1-65535 not in rs.
func impComplementPorts(rs []firewall.PortRange) []firewall.PortRange {
	out := []firewall.PortRange{}
	next := 1
	for _, r := range impNormalizePorts(rs) {
		if int(r.Low) > next {
			out = append(out, firewall.PortRange{Low: uint16(next), High: r.Low - 1})
		}
		next = int(r.High) + 1
	}
	if next <= 65535 {
		out = append(out, firewall.PortRange{Low: uint16(next), High: 65535})
	}
	return out
}

// impNormalizePrefixes sorts prefixes and drops those that another holds, so
// that a list stays short and free of repeats.
func impNormalizePrefixes(ps []netip.Prefix) []netip.Prefix {
	if len(ps) == 0 {
		return ps
	}
	return impRangesToPrefixes(impPrefixRanges(ps))
}

// impAddrRange is an inclusive range of addresses of one family.
type impAddrRange struct{ lo, hi netip.Addr }

func impPrefixRange(p netip.Prefix) impAddrRange {
	p = p.Masked()
	return impAddrRange{p.Addr(), impLastAddr(p)}
}

func impPrefixRanges(ps []netip.Prefix) []impAddrRange {
	rs := make([]impAddrRange, len(ps))
	for i, p := range ps {
		rs[i] = impPrefixRange(p)
	}
	return rs
}

func impLastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// impMergeRanges sorts ranges (IPv4 before IPv6) and merges those that touch
// or overlap within a family.
func impMergeRanges(rs []impAddrRange) []impAddrRange {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b impAddrRange) int { return a.lo.Compare(b.lo) })
	var out []impAddrRange
	for _, r := range s {
		if n := len(out); n > 0 && out[n-1].lo.Is4() == r.lo.Is4() {
			last := &out[n-1]
			if next := last.hi.Next(); !next.IsValid() || r.lo.Compare(next) <= 0 {
				if r.hi.Compare(last.hi) > 0 {
					last.hi = r.hi
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// impRangesToPrefixes covers address ranges exactly with the fewest prefixes.
func impRangesToPrefixes(rs []impAddrRange) []netip.Prefix {
	out := []netip.Prefix{}
	for _, r := range impMergeRanges(rs) {
		out = impAppendRangePrefixes(out, r)
	}
	return out
}

func impAppendRangePrefixes(out []netip.Prefix, r impAddrRange) []netip.Prefix {
	bits := r.lo.BitLen()
	lo, hi := impAddrInt(r.lo), impAddrInt(r.hi)
	one := big.NewInt(1)
	for lo.Cmp(hi) <= 0 {
		// The largest block that starts at lo and ends at or before hi.
		size := bits
		for size > 0 {
			blk := new(big.Int).Lsh(one, uint(bits-size+1))
			if new(big.Int).Mod(lo, blk).Sign() != 0 {
				break
			}
			end := new(big.Int).Add(lo, blk)
			end.Sub(end, one)
			if end.Cmp(hi) > 0 {
				break
			}
			size--
		}
		out = append(out, netip.PrefixFrom(impIntAddr(lo, bits), size))
		lo.Add(lo, new(big.Int).Lsh(one, uint(bits-size)))
	}
	return out
}

func impAddrInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

func impIntAddr(n *big.Int, bits int) netip.Addr {
	b := make([]byte, bits/8)
	n.FillBytes(b)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// impComplementPrefixes returns the addresses of family fam (one family) not
// in ps, as prefixes.
func impComplementPrefixes(ps []netip.Prefix, fam impFamily) []netip.Prefix {
	whole := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if fam == impFam6 {
		whole = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	full := impPrefixRange(whole)
	var gaps []impAddrRange
	next := full.lo
	for _, r := range impMergeRanges(impPrefixRanges(impKeepFamily(ps, fam))) {
		if r.lo.Compare(next) > 0 {
			gaps = append(gaps, impAddrRange{next, r.lo.Prev()})
		}
		next = r.hi.Next()
		if !next.IsValid() || r.hi == full.hi {
			return impRangesToPrefixes(gaps)
		}
	}
	gaps = append(gaps, impAddrRange{next, full.hi})
	return impRangesToPrefixes(gaps)
}
