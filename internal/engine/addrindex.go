package engine

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
)

// u128 is an address as a 128-bit number: IPv6 uses all of it, IPv4 the
// low 32 bits.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) xor(b u128) u128 { return u128{a.hi ^ b.hi, a.lo ^ b.lo} }

func (a u128) or(b u128) u128 { return u128{a.hi | b.hi, a.lo | b.lo} }

func (a u128) addOne() u128 {
	lo := a.lo + 1
	hi := a.hi
	if lo == 0 {
		hi++
	}
	return u128{hi, lo}
}

func (a u128) leadingZeros() int {
	if a.hi != 0 {
		return bits.LeadingZeros64(a.hi)
	}
	return 64 + bits.LeadingZeros64(a.lo)
}

// field returns the w bits (1 ≤ w ≤ 16) of a that start at bit pos, counted
// from the most significant bit.
func (a u128) field(pos, w uint8) uint32 {
	var x uint64
	if pos < 64 {
		x = a.hi<<pos | a.lo>>(64-pos)
	} else {
		x = a.lo << (pos - 64)
	}
	return uint32(x >> (64 - w))
}

// hostMask returns the mask of the host bits of a prefix of length bits
// within an address of bitLen bits (32 or 128).
func hostMask(bitLen, prefixLen int) u128 {
	host := bitLen - prefixLen // 0..128
	switch {
	case host == 0:
		return u128{}
	case host < 64:
		return u128{0, 1<<host - 1}
	case host == 64:
		return u128{0, ^uint64(0)}
	case host < 128:
		return u128{1<<(host-64) - 1, ^uint64(0)}
	default:
		return u128{^uint64(0), ^uint64(0)}
	}
}

func addrV4(a netip.Addr) u128 {
	b := a.As4()
	return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
}

func addrV6(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// prefixRange is an indexed prefix as a range of addresses.
type prefixRange struct {
	start, end u128 // inclusive
	bits       int
	id         int32
}

// intervals cuts an address space by the prefixes ps (which nest or are
// disjoint) into elementary intervals, each with a fixed chain of
// containing prefixes. It returns the interval starts (the first is 0) and,
// for each interval, the id of its innermost prefix (0 when none), and it
// records every prefix's parent (its innermost enclosing prefix, or 0) in
// parent, so that the chain of an interval is head, parent[head], ... .
func intervals(ps []prefixRange, maxAddr u128, parent []int32) (bs []u128, heads []int32) {
	slices.SortFunc(ps, func(a, b prefixRange) int {
		if a.start != b.start {
			if a.start.less(b.start) {
				return -1
			}
			return 1
		}
		return a.bits - b.bits
	})
	bs = make([]u128, 0, 2*len(ps)+1)
	bs = append(bs, u128{})
	for _, p := range ps {
		bs = append(bs, p.start)
		if p.end != maxAddr {
			bs = append(bs, p.end.addOne())
		}
	}
	slices.SortFunc(bs, func(a, b u128) int {
		if a == b {
			return 0
		}
		if a.less(b) {
			return -1
		}
		return 1
	})
	bs = slices.Compact(bs)
	heads = make([]int32, len(bs))
	var stack []prefixRange
	j := 0
	for i, bd := range bs {
		for len(stack) > 0 && stack[len(stack)-1].end.less(bd) {
			stack = stack[:len(stack)-1]
		}
		for j < len(ps) && ps[j].start == bd {
			if len(stack) > 0 {
				parent[ps[j].id] = stack[len(stack)-1].id
			}
			stack = append(stack, ps[j])
			j++
		}
		if len(stack) > 0 {
			heads[i] = stack[len(stack)-1].id
		}
	}
	return bs, heads
}

// v4Index maps an IPv4 address to the value (the innermost prefix id) of the
// elementary interval that holds it, DIR-k style: a root table indexed by
// the top k bits (k ≤ 16, sized to the number of intervals) whose entries
// either hold the value directly, point to a 256-entry table for the next 8
// bits (where intervals are dense), or point to a block of at most
// blockMax interval starts interleaved with their values, scanned without
// data-dependent branches. A lookup reads the root, rarely a sub-table, and
// one short contiguous block.
type v4Index struct {
	shift uint8
	root  []uint32 // entries: v4Direct|value, v4Table|offset in tabs, or offset in blk
	tabs  []uint32 // 256-entry sub-tables of entries
	blk   []uint32 // at off: n, then n pairs (interval start, value)
}

const (
	v4Direct = 1 << 31
	v4Table  = 1 << 30
	blockMax = 16
)

func buildV4Index(bs []u128, vals []int32) v4Index {
	k := min(16, max(4, bits.Len(uint(len(bs)))+1))
	x := v4Index{shift: uint8(32 - k), root: make([]uint32, 1<<k)}
	i := 0
	for t := range x.root {
		x.root[t] = x.build(bs, vals, &i, uint64(t)<<x.shift, x.shift)
	}
	return x
}

// build returns the entry for the addresses [start, start+1<<shift); *i is
// the interval holding start, and is left at the interval holding the end.
func (x *v4Index) build(bs []u128, vals []int32, i *int, start uint64, shift uint8) uint32 {
	end := start + 1<<shift // exclusive
	for *i+1 < len(bs) && bs[*i+1].lo <= start {
		*i++
	}
	j := *i + 1
	for j < len(bs) && bs[j].lo < end {
		j++
	}
	switch {
	case j == *i+1: // no interval starts inside
		return v4Direct | uint32(vals[*i])
	case j-*i > blockMax && shift >= 8:
		off := len(x.tabs)
		x.tabs = append(x.tabs, make([]uint32, 256)...)
		for t := range 256 {
			e := x.build(bs, vals, i, start+uint64(t)<<(shift-8), shift-8)
			x.tabs[off+t] = e
		}
		return v4Table | uint32(off)
	}
	off := len(x.blk)
	x.blk = append(x.blk, uint32(j-*i), uint32(start), uint32(vals[*i]))
	for m := *i + 1; m < j; m++ {
		x.blk = append(x.blk, uint32(bs[m].lo), uint32(vals[m]))
	}
	*i = j - 1
	return uint32(off)
}

func (x *v4Index) find(a uint32) int32 {
	shift := x.shift
	e := x.root[a>>shift]
	for e&(v4Direct|v4Table) == v4Table {
		shift -= 8
		e = x.tabs[e&^v4Table+a>>shift&255]
	}
	if e&v4Direct != 0 {
		return int32(e &^ v4Direct)
	}
	// Count the starts after the first that are <= a; there are fewer
	// than blockMax, and the loop has no data-dependent branch.
	n := x.blk[e]
	blk := x.blk[e+1 : e+1+2*n]
	i := uint32(0)
	for k := uint32(2); k < uint32(len(blk)); k += 2 {
		i += uint32((uint64(blk[k]) - uint64(a) - 1) >> 63) // 1 when the start <= a
	}
	return int32(blk[2*i+1])
}

// v6Index maps an IPv6 address to the innermost indexed prefix that holds
// it. IPv6 prefixes share long leading bits (2001:db8::/32 ...), so instead
// of a fixed root it uses a small radix tree with path compression: each
// node indexes the w bits that follow the bits all its interval starts
// share, and a leaf holds at most leafMax starts, searched binarily.
type v6Index struct {
	b     []u128  // sorted interval starts; b[0] == 0
	vals  []int32 // the value (the innermost prefix id) of each interval
	nodes []jnode
	tab   []int32 // per node: 1<<w+1 offsets into b
	kid   []int32 // per node slot: child node or -1
}

type jnode struct {
	lo, hi int32 // boundaries b[lo:hi]
	tab    int32 // offset of the node's slots in tab and kid
	pos, w uint8 // the node indexes bits [pos, pos+w)
	leaf   bool
}

const leafMax = 8

func buildV6Index(bs []u128, vals []int32) v6Index {
	x := v6Index{b: bs, vals: vals}
	x.buildNode(0, int32(len(bs)))
	return x
}

func (x *v6Index) buildNode(lo, hi int32) int32 {
	n := int32(len(x.nodes))
	x.nodes = append(x.nodes, jnode{lo: lo, hi: hi, leaf: true})
	if hi-lo <= leafMax {
		return n
	}
	pos := x.b[lo].xor(x.b[hi-1]).leadingZeros() // < 128: the boundaries differ
	w := bits.Len(uint(hi - lo))
	w = min(max(w, 2), 16, 128-pos)
	size := int32(1) << w
	base := int32(len(x.tab))
	x.tab = append(x.tab, make([]int32, size+1)...)
	x.kid = append(x.kid, make([]int32, size+1)...)
	i := lo
	for t := int32(0); t < size; t++ {
		for i < hi && int32(x.b[i].field(uint8(pos), uint8(w))) < t {
			i++
		}
		x.tab[base+t] = i
	}
	x.tab[base+size] = hi
	x.nodes[n] = jnode{lo: lo, hi: hi, tab: base, pos: uint8(pos), w: uint8(w)}
	for t := int32(0); t <= size; t++ {
		x.kid[base+t] = -1
	}
	for t := int32(0); t < size; t++ {
		l2, h2 := x.tab[base+t], x.tab[base+t+1]
		if h2-l2 > leafMax {
			k := x.buildNode(l2, h2)
			x.kid[base+t] = k
		}
	}
	return n
}

// find returns the value of the interval that holds a.
func (x *v6Index) find(a u128) int32 {
	return x.vals[x.interval(a)]
}

// interval returns the index of the elementary interval that holds a.
func (x *v6Index) interval(a u128) int32 {
	b := x.b
	n := int32(0)
	for {
		nd := &x.nodes[n]
		lo, hi := nd.lo, nd.hi
		if a.less(b[lo]) {
			return lo - 1
		}
		if !nd.leaf {
			if !a.less(b[hi-1]) {
				return hi - 1
			}
			s := nd.tab + int32(a.field(nd.pos, nd.w))
			if k := x.kid[s]; k >= 0 {
				n = k
				continue
			}
			lo, hi = x.tab[s], x.tab[s+1]
			if lo == hi || a.less(b[lo]) {
				return lo - 1
			}
		}
		// b[lo] <= a: find the last boundary <= a in b[lo:hi].
		base, n := lo, hi-lo
		for n > 1 {
			half := n >> 1
			c := b[base+half]
			_, borrow := bits.Sub64(a.lo, c.lo, 0)
			_, borrow = bits.Sub64(a.hi, c.hi, borrow) // 1 when a < c
			base += half &^ -int32(borrow)
			n -= half
		}
		return base
	}
}

// side indexes the prefixes of one address field (sources or destinations).
// Prefix ids start at 1; id 0 stands for ANY, the empty list. The chain of
// the prefixes that contain an address is its innermost prefix (from the
// address index), then parent links; the per-prefix arrays are small and
// indexed by id, so that walking a chain stays in cache.
type side struct {
	v4    v4Index
	v6    v6Index
	nodes []pnode // by prefix id
}

// pnode is what the lookup needs to know about a prefix, in one place so
// that each step of a chain walk reads one cache line.
type pnode struct {
	parent int32 // innermost enclosing prefix, or 0
	min    int32 // the lowest order of an entry of the pair table keyed on the prefix
	any    span  // the entries of the pair (prefix, ANY on the other side)
	// partners has the bit idBit(p) of each prefix p of the other side
	// that pairs with this one in the pair table.
	partners uint64
}

// idBit returns the bit that stands for prefix id in pnode.partners: one of
// 64, by multiplicative hashing.
func idBit(id int32) uint64 { return 1 << (uint32(id) * 0x9E3779B1 >> 26) }

// head returns the innermost prefix that contains a, or 0. Containment is
// netip.Prefix.Contains's: no match across families, none for a zoned or
// invalid address, and an IPv4-mapped IPv6 address is IPv6.
func (s *side) head(a netip.Addr) int32 {
	if a.Is4() {
		b := a.As4()
		return s.v4.find(binary.BigEndian.Uint32(b[:]))
	}
	if a.Is6() && a.Zone() == "" {
		return s.v6.find(addrV6(a))
	}
	return 0
}
