package analysis

import (
	"net/netip"
	"slices"
)

// prefixIndex finds the items one of whose prefixes meets an interval.
// Prefixes nest or are disjoint, so the prefixes that meet an interval are
// those that contain its first address (a chain of parents) and those
// that start inside it (a range of the sorted starts).
type prefixIndex struct {
	nodes []pnode // distinct prefixes, sorted by start then widest first
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
	return x
}

// query calls add with the items of every prefix that meets q.
func (x *prefixIndex) query(q iv, add func(int32)) {
	// The last node starting at or before q.lo, and its parents, are the
	// ones that may contain q.lo.
	i, _ := slices.BinarySearchFunc(x.nodes, q.lo, func(n pnode, v u128) int {
		if v.less(n.iv.lo) {
			return 1
		}
		return -1
	})
	for p := int32(i - 1); p >= 0; p = x.nodes[p].parent {
		if !x.nodes[p].iv.hi.less(q.lo) {
			for _, it := range x.nodes[p].items {
				add(it)
			}
		}
	}
	for ; i < len(x.nodes) && !q.hi.less(x.nodes[i].iv.lo); i++ {
		for _, it := range x.nodes[i].items {
			add(it)
		}
	}
}

// classIndex finds, in one class, the items that may meet a shape,
// without looking at every item: rules that name sources are found by
// source, those that name only destinations by destination, and the few
// that name neither (catch-alls and defaults) are always candidates.
type classIndex struct {
	bySrc     prefixIndex // items with sources
	byDstOnly prefixIndex // items without sources, with destinations
	byDst     prefixIndex // items with destinations
	anyDst    []int32     // items without destinations
	anyBoth   []int32     // items with neither
	all       []int32
}

// scratch marks the items a lookup has seen; one per goroutine.
type scratch struct {
	stamp []uint32
	cur   uint32
}

func newScratch(n int) *scratch { return &scratch{stamp: make([]uint32, n)} }

// index returns the index of class c, built on first use.
func (m *Model) index(c class) *classIndex {
	m.idxOnce[c].Do(func() { m.idx[c] = m.buildIndex(c) })
	return m.idx[c]
}

func (m *Model) buildIndex(c class) *classIndex {
	x := &classIndex{all: m.cands[c]}
	var src, dstOnly, dst []prefixEntry
	for _, i := range m.cands[c] {
		it := &m.items[i]
		var srcs, dsts []netip.Prefix
		if it.rule != nil {
			srcs, dsts = familyPrefixes(it.rule.Sources, c.v6()), familyPrefixes(it.rule.Destinations, c.v6())
		}
		for _, p := range srcs {
			src = append(src, prefixEntry{prefixIV(p), i})
		}
		for _, p := range dsts {
			dst = append(dst, prefixEntry{prefixIV(p), i})
			if len(srcs) == 0 {
				dstOnly = append(dstOnly, prefixEntry{prefixIV(p), i})
			}
		}
		if len(dsts) == 0 {
			x.anyDst = append(x.anyDst, i)
			if len(srcs) == 0 {
				x.anyBoth = append(x.anyBoth, i)
			}
		}
	}
	x.bySrc, x.byDstOnly, x.byDst = buildPrefixIndex(src), buildPrefixIndex(dstOnly), buildPrefixIndex(dst)
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
	sc.cur++
	if sc.cur == 0 {
		clear(sc.stamp)
		sc.cur = 1
	}
	add := func(it int32) {
		if it >= from && it < to && sc.stamp[it] != sc.cur {
			sc.stamp[it] = sc.cur
			if shapes[it].overlaps(s) {
				out = append(out, it)
			}
		}
	}
	srcAny, dstAny := isFull(s[dimSrc]), isFull(s[dimDst])
	switch {
	case !srcAny:
		for _, q := range s[dimSrc] {
			x.bySrc.query(q, add)
		}
		if dstAny {
			for _, n := range x.byDstOnly.nodes {
				for _, it := range n.items {
					add(it)
				}
			}
		} else {
			for _, q := range s[dimDst] {
				x.byDstOnly.query(q, add)
			}
		}
		for _, it := range x.anyBoth {
			add(it)
		}
	case !dstAny:
		for _, q := range s[dimDst] {
			x.byDst.query(q, add)
		}
		for _, it := range x.anyDst {
			add(it)
		}
	default:
		for _, it := range x.all {
			add(it)
		}
	}
	slices.Sort(out)
	return out
}

// isFull reports whether l is a whole address range.
func isFull(l []iv) bool {
	return len(l) == 1 && l[0].lo == (u128{}) && (l[0].hi == allV4.hi || l[0].hi == allV6.hi)
}
