package analysis

import (
	"net/netip"
	"slices"
	"sync"
)

// prefixIndex finds the items one of whose prefixes meets an interval.
// Prefixes nest or are disjoint, so the prefixes that meet an interval are
// those that contain its first address (a chain of parents) and those
// that start inside it (a range of the sorted starts).
type prefixIndex struct {
	nodes  []pnode // distinct prefixes, sorted by start then widest first
	starts []u128  // the nodes' starts, apart for a binary search that stays in cache
	cum    []int   // cum[i] is the number of items of nodes[:i]
}

type pnode struct {
	iv     iv
	parent int32 // enclosing node, or -1
	items  []int32
}

type prefixEntry struct {
	iv   iv
	item int32
}

func buildPrefixIndex(es []prefixEntry) prefixIndex {
	slices.SortFunc(es, func(a, b prefixEntry) int {
		if c := cmpU(a.iv.lo, b.iv.lo); c != 0 {
			return c
		}
		if c := cmpU(b.iv.hi, a.iv.hi); c != 0 {
			return c
		}
		return int(a.item - b.item)
	})
	var x prefixIndex
	var stack []int32
	for _, e := range es {
		if n := len(x.nodes); n > 0 && x.nodes[n-1].iv == e.iv {
			x.nodes[n-1].items = append(x.nodes[n-1].items, e.item)
			continue
		}
		for len(stack) > 0 && x.nodes[stack[len(stack)-1]].iv.hi.less(e.iv.lo) {
			stack = stack[:len(stack)-1]
		}
		parent := int32(-1)
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		x.nodes = append(x.nodes, pnode{iv: e.iv, parent: parent, items: []int32{e.item}})
		stack = append(stack, int32(len(x.nodes)-1))
	}
	x.cum = make([]int, len(x.nodes)+1)
	x.starts = make([]u128, len(x.nodes))
	for i, n := range x.nodes {
		x.cum[i+1] = x.cum[i] + len(n.items)
		x.starts[i] = n.iv.lo
	}
	return x
}

// start returns the index of the first node starting after v.
func (x *prefixIndex) start(v u128) int {
	lo, hi := 0, len(x.starts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if v.less(x.starts[mid]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// count returns how many items query(q) would give, cheaply.
func (x *prefixIndex) count(q iv) int {
	i := x.start(q.lo)
	n := 0
	for p := int32(i - 1); p >= 0; p = x.nodes[p].parent {
		if !x.nodes[p].iv.hi.less(q.lo) {
			n += len(x.nodes[p].items)
		}
	}
	j := x.start(q.hi)
	return n + x.cum[j] - x.cum[i]
}

// span is a range [from, to) of items in evaluation order.
type span struct{ from, to int32 }

// each calls add with the items of items (ascending) inside sp.
func (sp span) each(items []int32, add func(int32)) {
	i := 0
	if len(items) > 8 && items[0] < sp.from {
		i, _ = slices.BinarySearch(items, sp.from)
	}
	for ; i < len(items) && items[i] < sp.to; i++ {
		if items[i] >= sp.from {
			add(items[i])
		}
	}
}

// query calls add with the items in sp of every prefix that meets q.
func (x *prefixIndex) query(q iv, sp span, add func(int32)) {
	// The last node starting at or before q.lo, and its parents, are the
	// ones that may contain q.lo.
	i := x.start(q.lo)
	for p := int32(i - 1); p >= 0; p = x.nodes[p].parent {
		if !x.nodes[p].iv.hi.less(q.lo) {
			sp.each(x.nodes[p].items, add)
		}
	}
	for ; i < len(x.nodes) && !q.hi.less(x.nodes[i].iv.lo); i++ {
		sp.each(x.nodes[i].items, add)
	}
}

// pairIndex finds the items one of whose (outer, inner) prefix pairs
// meets a pair of intervals: the outer prefixes are indexed as in
// prefixIndex, and each holds an index of the inner prefixes of its items,
// so that the many rules sharing one address object are told apart by
// their other side without being looked at one by one.
type pairIndex struct {
	outer prefixIndex // items are positions in inner
	inner []prefixIndex
	// lo and hi are the least and greatest item of each inner index, so
	// that a lookup within a span skips the indexes outside it.
	lo, hi []int32
}

type pairEntry struct {
	outer, inner iv
	item         int32
}

func buildPairIndex(es []pairEntry) pairIndex {
	outer := make([]prefixEntry, len(es))
	for i, e := range es {
		outer[i] = prefixEntry{e.outer, int32(i)}
	}
	x := pairIndex{outer: buildPrefixIndex(outer)}
	x.inner = make([]prefixIndex, len(x.outer.nodes))
	x.lo, x.hi = make([]int32, len(x.outer.nodes)), make([]int32, len(x.outer.nodes))
	var in []prefixEntry
	for n := range x.outer.nodes {
		in = in[:0]
		x.lo[n], x.hi[n] = es[x.outer.nodes[n].items[0]].item, es[x.outer.nodes[n].items[0]].item
		for _, e := range x.outer.nodes[n].items {
			in = append(in, prefixEntry{es[e].inner, es[e].item})
			x.lo[n], x.hi[n] = min(x.lo[n], es[e].item), max(x.hi[n], es[e].item)
		}
		x.inner[n] = buildPrefixIndex(slices.Clone(in))
		x.outer.nodes[n].items = nil
	}
	return x
}

// nodes calls visit with each outer node that meets q.
func (x *pairIndex) nodes(q iv, visit func(int32)) {
	o := &x.outer
	i := o.start(q.lo)
	for p := int32(i - 1); p >= 0; p = o.nodes[p].parent {
		if !o.nodes[p].iv.hi.less(q.lo) {
			visit(p)
		}
	}
	for ; i < len(o.nodes) && !q.hi.less(o.nodes[i].iv.lo); i++ {
		visit(int32(i))
	}
}

// countNodes returns how many outer nodes meet the intervals of l.
func (x *pairIndex) countNodes(l []iv) int {
	n := 0
	for _, q := range l {
		x.nodes(q, func(int32) { n++ })
	}
	return n
}

func (x *pairIndex) query(outer, inner []iv, sp span, add func(int32)) {
	for _, q := range outer {
		x.nodes(q, func(n int32) {
			if x.lo[n] < sp.to && x.hi[n] >= sp.from {
				x.inner[n].queryList(inner, sp, add)
			}
		})
	}
}

// classIndex finds, in one class, the items that meet a shape without
// looking at every item. Items that name sources are in a pair index by
// source then destination, and items that name destinations in one by
// destination then source, so that a lookup can go by either side,
// whichever has fewer prefixes to visit (a rule from a /8 to one host is
// looked up by its host); items naming one side only are also in a plain
// index for the lookups by the other side; the few items that name
// neither (catch-alls and defaults) are always candidates.
type addrIndex struct {
	bySrc     pairIndex   // items with sources, then their destinations (any: the whole range)
	byDst     pairIndex   // items with destinations, then their sources
	byDstOnly prefixIndex // items without sources, with destinations
	bySrcOnly prefixIndex // items with sources, without destinations
	anyBoth   []int32     // items with neither
}

// scratch marks the items a lookup has seen; one per goroutine.
type scratch struct {
	stamp []uint32
	cur   uint32
}

func newScratch(n int) *scratch { return &scratch{stamp: make([]uint32, n)} }

// classIndex finds, in one class, the items that meet a shape. Items are
// first split by destination port: those that name single ports are filed
// under each (most rules of a real rule base do), so that rules that share
// addresses but not ports are never looked at; the others (ranges, any)
// form one more group. Each group is an addrIndex.
type classIndex struct {
	byPort map[uint64]*addrIndex
	other  *addrIndex
	// all holds every item, for shapes with port ranges; built on first
	// use, as finding holders never needs it.
	allOnce sync.Once
	all     *addrIndex
	build   func() *addrIndex
}

// everything returns the index of every item.
func (x *classIndex) everything() *addrIndex {
	x.allOnce.Do(func() { x.all, x.build = x.build(), nil })
	return x.all
}

// maxPortsFiled bounds the single ports under which one item is filed.
const maxPortsFiled = 16

// singleOnly reports whether l names only single ports, few enough for
// items to be filed under each.
func singleOnly(l []iv) bool {
	if len(l) > maxPortsFiled {
		return false
	}
	for _, x := range l {
		if x.lo != x.hi {
			return false
		}
	}
	return true
}

// singlePorts returns the ports of l when it names only single ports, few
// enough to file an item under each.
func singlePorts(l []iv) ([]uint64, bool) {
	if len(l) > maxPortsFiled {
		return nil, false
	}
	out := make([]uint64, 0, len(l))
	for _, x := range l {
		if x.lo != x.hi {
			return nil, false
		}
		out = append(out, x.lo.lo)
	}
	return out, true
}

// index returns the index of class c, built on first use.
func (m *Model) index(c class) *classIndex {
	m.idxOnce[c].Do(func() { m.idx[c] = m.buildIndex(c) })
	return m.idx[c]
}

func (m *Model) buildIndex(c class) *classIndex { return m.indexOf(c, m.cands[c]) }

// indexOf builds an index of class c over items, in evaluation order.
func (m *Model) indexOf(c class, items []int32) *classIndex {
	groups := map[uint64][]int32{}
	var other []int32
	for _, i := range items {
		if ports, ok := singlePorts(m.shapes[c][i][dimDport]); ok {
			for _, p := range ports {
				groups[p] = append(groups[p], i)
			}
			continue
		}
		other = append(other, i)
	}
	x := &classIndex{byPort: map[uint64]*addrIndex{}, other: m.buildAddrIndex(c, other),
		build: func() *addrIndex { return m.buildAddrIndex(c, items) }}
	for p, items := range groups {
		x.byPort[p] = m.buildAddrIndex(c, items)
	}
	return x
}

func (m *Model) buildAddrIndex(c class, items []int32) *addrIndex {
	x := &addrIndex{}
	var dstOnly, srcOnly []prefixEntry
	var src, dst []pairEntry
	all := []iv{allV4}
	if c.v6() {
		all = []iv{allV6}
	}
	ivs := func(ps []netip.Prefix) []iv {
		if len(ps) == 0 {
			return all
		}
		out := make([]iv, len(ps))
		for i, p := range ps {
			out[i] = prefixIV(p)
		}
		return out
	}
	for _, i := range items {
		it := &m.items[i]
		var srcs, dsts []netip.Prefix
		if it.rule != nil {
			srcs, dsts = familyPrefixes(it.src, c.v6()), familyPrefixes(it.dst, c.v6())
		}
		si, di := ivs(srcs), ivs(dsts)
		for _, a := range si {
			for _, b := range di {
				if len(srcs) > 0 {
					src = append(src, pairEntry{a, b, i})
				}
				if len(dsts) > 0 {
					dst = append(dst, pairEntry{b, a, i})
				}
			}
		}
		for _, p := range srcs {
			if len(dsts) == 0 {
				srcOnly = append(srcOnly, prefixEntry{prefixIV(p), i})
			}
		}
		for _, p := range dsts {
			if len(srcs) == 0 {
				dstOnly = append(dstOnly, prefixEntry{prefixIV(p), i})
			}
		}
		if len(dsts) == 0 && len(srcs) == 0 {
			x.anyBoth = append(x.anyBoth, i)
		}
	}
	x.bySrc, x.byDst = buildPairIndex(src), buildPairIndex(dst)
	x.byDstOnly, x.bySrcOnly = buildPrefixIndex(dstOnly), buildPrefixIndex(srcOnly)
	return x
}

func familyPrefixes(ps []netip.Prefix, v6 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range ps {
		if p.IsValid() && p.Addr().Is4() != v6 {
			out = append(out, p)
		}
	}
	return out
}

// candidates returns, in evaluation order, the items in [from, to) that
// meet s.
func (x *classIndex) candidates(sc *scratch, s *shape, shapes []*shape, from, to int32, out []int32) []int32 {
	out = out[:0]
	sc.next()
	sp := span{from, to}
	// The address lookups are exact: an item they give meets s in both
	// address dimensions, so only the ports are left; an item filed under
	// one of s's destination ports meets it there too.
	add := func(it int32) {
		if sc.stamp[it] != sc.cur {
			sc.stamp[it] = sc.cur
			if t := shapes[it]; listsMeet(t[dimDport], s[dimDport]) && listsMeet(t[dimSport], s[dimSport]) {
				out = append(out, it)
			}
		}
	}
	if !singleOnly(s[dimDport]) {
		x.everything().collect(s, sp, add)
		slices.Sort(out)
		return out
	}
	addFiled := func(it int32) {
		if sc.stamp[it] != sc.cur {
			sc.stamp[it] = sc.cur
			if listsMeet(shapes[it][dimSport], s[dimSport]) {
				out = append(out, it)
			}
		}
	}
	for _, p := range s[dimDport] {
		if g := x.byPort[p.lo.lo]; g != nil {
			g.collect(s, sp, addFiled)
		}
	}
	x.other.collect(s, sp, add)
	slices.Sort(out)
	return out
}

// collect calls add with every item of x that meets s in both address
// dimensions, and with no other (some more than once).
func (x *addrIndex) collect(s *shape, sp span, add func(int32)) {
	// Items are found by source, or by destination: whichever finds
	// fewer. By source: those with sources that meet s's, those with only
	// destinations that meet s's, and those with neither. By destination,
	// the other way round.
	bySrc := x.bySrc.countNodes(s[dimSrc]) + x.byDstOnly.countList(s[dimDst])
	byDst := x.byDst.countNodes(s[dimDst]) + x.bySrcOnly.countList(s[dimSrc])
	if bySrc <= byDst {
		x.bySrc.query(s[dimSrc], s[dimDst], sp, add)
		x.byDstOnly.queryList(s[dimDst], sp, add)
	} else {
		x.byDst.query(s[dimDst], s[dimSrc], sp, add)
		x.bySrcOnly.queryList(s[dimSrc], sp, add)
	}
	sp.each(x.anyBoth, add)
}

func (x *prefixIndex) countList(l []iv) int {
	n := 0
	for _, q := range l {
		n += x.count(q)
	}
	return n
}

func (x *prefixIndex) queryList(l []iv, sp span, add func(int32)) {
	for _, q := range l {
		x.query(q, sp, add)
	}
}

// ancestors calls add with the items in sp of every prefix that holds q:
// the chain of parents of the last prefix starting at or before q.lo.
func (x *prefixIndex) ancestors(q iv, sp span, add func(int32)) {
	for p := int32(x.start(q.lo) - 1); p >= 0; p = x.nodes[p].parent {
		if !x.nodes[p].iv.hi.less(q.hi) {
			sp.each(x.nodes[p].items, add)
		}
	}
}

// holders calls add with every item of x that may hold s: those one of
// whose prefix pairs holds the first interval of each of s's address
// dimensions (and some more).
func (x *addrIndex) holders(s *shape, sp span, add func(int32)) {
	src, dst := s[dimSrc][0], s[dimDst][0]
	o := &x.bySrc.outer
	for p := int32(o.start(src.lo) - 1); p >= 0; p = o.nodes[p].parent {
		if !o.nodes[p].iv.hi.less(src.hi) && x.bySrc.lo[p] < sp.to && x.bySrc.hi[p] >= sp.from {
			x.bySrc.inner[p].ancestors(dst, sp, add)
		}
	}
	x.byDstOnly.ancestors(dst, sp, add)
	sp.each(x.anyBoth, add)
}

// firstHolder returns the first item in [0, to) whose match set holds s,
// or -1.
func (x *classIndex) firstHolder(s *shape, shapes []*shape, to int32) int32 {
	best := int32(-1)
	sp := span{0, to}
	add := func(it int32) {
		if (best < 0 || it < best) && shapes[it].holds(s) {
			best = it
		}
	}
	if l := s[dimDport]; singleOnly(l) && len(l) > 0 {
		// A holder names every port of s, so it is filed under the first.
		if g := x.byPort[l[0].lo.lo]; g != nil {
			g.holders(s, sp, add)
		}
		x.other.holders(s, sp, add)
	} else {
		// A holder has a port range, or more ports than are filed
		// one by one, as s has: it is among the others.
		x.other.holders(s, sp, add)
	}
	return best
}
