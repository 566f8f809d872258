package engine

import (
	"math"
	"math/bits"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Matcher is a compiled, immutable tree; safe for concurrent use.
type Matcher struct {
	revision  int64
	fwDefault firewall.Action
	policies  []cpolicy // every policy, in evaluation order
	cut       int32     // the first enabled policy whose default decides, or -1
	rules     []crule   // the rules that can match, in evaluation order; a rule's index is its order

	src, dst side         // address → chain of prefix ids
	anyAny   [5]span      // the entries of the pair (ANY, ANY), by flow protocol class
	bloom    pairFilter   // the (source id, destination id) pairs of the pair table
	pairs    pairTable    // pair of prefixes → its entry
	spans    []span       // the pairs of the pair table with more than one entry
	entries  []entry      // the entries of spans, each span in order
	bigs     []uint32     // the records of big spans
	blob     []uint32     // the records of entries with flags
	expires  []time.Time  // expiry times, by index from a record
	groups   []ruleGroups // the expanded groups of rules that have them, for explain
}

type cpolicy struct {
	id, name string
	enabled  bool
	def      firewall.Action // allow, deny or reject when the default decides
}

type crule struct {
	id     string
	policy int32 // index in Matcher.policies
	groups int32 // index in Matcher.groups, or -1 for a rule without groups
	action uint8 // index in actions
}

var actions = [...]firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject}

func actionCode(a firewall.Action) uint8 {
	switch a {
	case firewall.Deny:
		return 1
	case firewall.Reject:
		return 2
	}
	return 0
}

// entry is one (rule, source prefix, destination prefix) of the cross
// product, with everything needed to check the other fields inline. In the
// pair table, a pair with several entries is represented by an entry with
// proto 0, the order of its first entry and ext the index of its span.
type entry struct {
	order   int32  // the rule's evaluation order
	ext     int32  // offset of the entry's record in Matcher.blob when flags ask for it
	dLo, dW uint16 // ports Lo to Lo+W: 0+65535 for any; the hull of the ranges when multi
	proto   uint8  // protocol bits the rule matches; never 0 in a real entry
	flags   uint8
}

// The flags of an entry, each with a field in its record in Matcher.blob,
// in this order: the index of the expiry in Matcher.expires, then for each
// list its length and its items. Port ranges are packed as low<<16|high,
// sorted and merged; prefix ids are sorted.
const (
	fExpiring = 1 << iota // the rule has an expiry
	fSrcPorts             // source ports
	fMultiD               // several destination port ranges
	fVerifyS              // keyed on ANY source: check the source prefix ids
	fVerifyD              // keyed on ANY destination: check the destination prefix ids
)

// field returns the list of flag f (not fExpiring) in the record of e.
func (m *Matcher) field(e *entry, f uint8) []uint32 {
	b := m.blob[e.ext:]
	if e.flags&fExpiring != 0 {
		b = b[1:]
	}
	for g := uint8(fSrcPorts); g < f; g <<= 1 {
		if e.flags&g != 0 {
			b = b[1+b[0]:]
		}
	}
	return b[1 : 1+b[0]]
}

// span holds the entries of one (source, destination) pair, in order: it
// is entries[off:off+n], or for a big one, split by protocol and
// destination port, bigs[off] (n < 0). An empty span has n 0 and first
// math.MaxInt32.
type span struct {
	first  int32 // the order of the first entry
	off    int32
	n      int16 // at most bigBucket, or -1
	protos uint8 // the protocol bits of its entries
}

// A big span is split by flow protocol class c (the index of the flow's
// protocol bit) in a record of Matcher.bigs. The candidates are, for tcp
// and udp, the entries with destination ports listed under the flow's port
// in a port table, and the entries of the class's rest list: those without
// destination ports and those whose ranges would have cost too many
// copies. All lists are in Matcher.entries, in order. The record is:
//
//	[0:10]  rest lists: offset and length for each class
//	[10:14] port tables of tcp and udp: offset in Matcher.bigs and number of intervals (0: none)
//	tables  for each interval, its first port and the offset of its list; then the end of the last list
//
// so that a lookup reads one or two adjacent cache lines before the
// entries.
const (
	bigRest  = 0
	bigPorts = 10
	bigHead  = 14
)

// findPortTable returns the index of the interval of a port table (pairs of
// first port and list offset; the first port of interval 0 is 0) that
// holds p.
func findPortTable(t []uint32, p uint16) int32 {
	base, n := int32(0), int32(len(t)/2)
	for n > 1 {
		half := n >> 1
		lt := (int32(p) - int32(t[2*(base+half)])) >> 31 // -1 when p < the bound
		base += half &^ lt
		n -= half
	}
	return base
}

// findPort returns the interval of bs (sorted, bs[0] == 0) that holds p.
func findPort(bs []uint16, p uint16) int32 {
	base, n := int32(0), int32(len(bs))
	for n > 1 {
		half := n >> 1
		lt := (int32(p) - int32(bs[base+half])) >> 31 // -1 when p < the bound
		base += half &^ lt
		n -= half
	}
	return base
}

func pairKey(s, d int32) uint64 { return uint64(s)<<32 | uint64(uint32(d)) }

// hashKey mixes a pair key so that both its high bits (table slots and
// filter words, by multiply-shift) and its low bits (filter bits) are
// usable.
func hashKey(k uint64) uint64 {
	k *= 0x9E3779B97F4A7C15
	return k ^ k>>29
}

// pairFilter is a blocked Bloom filter of the pairs that have entries:
// about 12 bits a pair, three bits in the low 48 bits of one 64-bit word,
// whose top 16 bits hold the lowest first order of the pairs hashed to the
// word, shifted right by shift. A check is one read of a table small
// enough to stay in cache; it rules out the (source, destination)
// combinations of a flow that no rule uses, and those whose rules all come
// after the best match so far, without a probe of the big pair table.
// Flows read it at random, so it is kept to 2 bytes a pair: at 100,000
// rules, 16-byte words (16 bits a pair) made it 333 KB, a third of the
// CPU's L2 cache.
type pairFilter struct {
	words []uint64
	n     uint64
	shift uint8
}

// The filter bits of a word are its low filterMinShift bits.
const (
	filterMinShift = 48
	filterBitsMask = 1<<filterMinShift - 1
)

// filterBits returns the three filter bits of the pair of hash h, one in
// each 16-bit lane of the filter bits of a word.
func filterBits(h uint64) uint64 {
	return 1<<(h&15) | 1<<(16+h>>4&15) | 1<<(32+h>>8&15)
}

// has reports whether the pair of hash h may have entries before best.
func (f *pairFilter) has(h uint64, best int32) bool {
	hi, _ := bits.Mul64(h, f.n)
	w := f.words[hi]
	m := filterBits(h)
	// The order stored is rounded down, so the test never rules out a
	// pair with an entry before best.
	return w&m == m && int32(w>>filterMinShift) <= (best-1)>>f.shift
}

// pairTable maps a pair key to its entry (when it has one) or to its span,
// with open addressing and linear probing.
type pairTable struct {
	slots []pairSlot
	n     uint64
}

// pairSlot holds a pair's only entry inline; for a pair with several, e has
// proto 0, e.order is the first order and e.ext the span.
type pairSlot struct {
	key uint64
	e   entry
}

const emptyKey = ^uint64(0)

func (t *pairTable) get(k, h uint64) *entry {
	i, _ := bits.Mul64(h, t.n)
	for {
		s := &t.slots[i]
		if s.key == k {
			return &s.e
		}
		if s.key == emptyKey {
			return nil
		}
		if i++; i == t.n {
			i = 0
		}
	}
}

// Protocol bits of flows and rules.
const (
	pTCP   = 1 << iota
	pUDP   //
	pICMP  //
	pICMP6 //
	pOther // a flow protocol no rule names (a rule with protocol any matches it)
	pAll   = pTCP | pUDP | pICMP | pICMP6 | pOther
	pPorts = pTCP | pUDP
)

func flowProtoBit(p firewall.Protocol) uint8 {
	switch p {
	case firewall.TCP:
		return pTCP
	case firewall.UDP:
		return pUDP
	case firewall.ICMP:
		return pICMP
	case firewall.ICMPv6:
		return pICMP6
	}
	return pOther
}

// query is one flow, ready for matching.
type query struct {
	pbit   uint8
	sp, dp uint16
	sh, dh int32 // innermost prefixes of the source and destination addresses, or 0
	now    time.Time
	ex     *[]int32 // collects expired matches when explaining
}

// lookup returns the order of the first rule that matches f at now, or
// len(m.rules) when none does.
func (m *Matcher) lookup(f *firewall.Flow, now time.Time, ex *[]int32) int32 {
	var q query
	m.prepare(&q, f, now, ex)
	return m.run(&q)
}

// prepare fills q for f: protocol, ports and the innermost prefixes of
// both addresses.
func (m *Matcher) prepare(q *query, f *firewall.Flow, now time.Time, ex *[]int32) {
	*q = query{
		pbit: flowProtoBit(f.Protocol),
		sh:   m.src.head(f.Source),
		dh:   m.dst.head(f.Destination),
		now:  now,
		ex:   ex,
	}
	if q.pbit&pPorts != 0 {
		// A flow without ports keeps 0 and 0: entries without ports accept
		// any port, and those with ports never accept its protocol.
		q.sp, q.dp = f.SourcePort, f.DestinationPort
	}
}

// run returns the order of the first rule that matches q, or len(m.rules).
func (m *Matcher) run(q *query) int32 {
	best := int32(len(m.rules))
	src, dst := &m.src, &m.dst
	// Pairs with ANY on a side are reached from the chains directly. A span
	// is checked here, before the call, because most of them are skipped.
	if sp := &m.anyAny[bits.TrailingZeros8(q.pbit)]; sp.useful(best, q.pbit) {
		best = m.scanSpan(sp, best, q)
	}
	// The walks also note the lowest order of the pairs of two prefixes on
	// each chain, and which prefixes each chain pairs with: when no pair
	// can beat best, or no prefix of one chain pairs with one of the
	// other, the second walk of the chains is skipped.
	srcMin, dstMin := int32(math.MaxInt32), int32(math.MaxInt32)
	var srcBits, srcPartners, dstBits, dstPartners uint64
	for s := q.sh; s > 0; s = src.nodes[s].parent {
		n := &src.nodes[s]
		srcMin = min(srcMin, n.min)
		srcBits, srcPartners = srcBits|idBit(s), srcPartners|n.partners
		if sp := &n.any; sp.useful(best, q.pbit) {
			best = m.scanSpan(sp, best, q)
		}
	}
	for d := q.dh; d > 0; d = dst.nodes[d].parent {
		n := &dst.nodes[d]
		dstMin = min(dstMin, n.min)
		dstBits, dstPartners = dstBits|idBit(d), dstPartners|n.partners
		if sp := &n.any; sp.useful(best, q.pbit) {
			best = m.scanSpan(sp, best, q)
		}
	}
	if max(srcMin, dstMin) >= best || srcPartners&dstBits == 0 || dstPartners&srcBits == 0 {
		return best
	}
	// Pairs of two prefixes go through the filter, then the table.
	for s := q.sh; s > 0; s = src.nodes[s].parent {
		if src.nodes[s].min >= best || src.nodes[s].partners&dstBits == 0 {
			continue
		}
		base := uint64(s) << 32
		for d := q.dh; d > 0; d = dst.nodes[d].parent {
			if dst.nodes[d].min >= best {
				continue
			}
			k := base | uint64(d)
			h := hashKey(k)
			if !m.bloom.has(h, best) {
				continue
			}
			e := m.pairs.get(k, h)
			switch {
			case e == nil || e.order >= best:
			case e.proto == 0:
				if sp := &m.spans[e.ext]; sp.useful(best, q.pbit) {
					best = m.scanSpan(sp, best, q)
				}
			case e.fits(q.pbit, q.dp) && (e.flags == 0 || m.check(e, q)):
				best = e.order
			}
		}
	}
	return best
}

// useful reports whether sp may hold a match for a flow of protocol bit
// pbit that comes before best.
func (sp *span) useful(best int32, pbit uint8) bool {
	return sp.first < best && sp.protos&pbit != 0
}

// scanSpan returns the order of the first entry of sp that matches q and
// comes before best, or best. The caller has checked that sp is useful.
// Most spans are small and are scanned here in one loop, without the
// slices and second list of a big span: at 100,000 rules a flow scans
// about three spans, so their fixed cost counts.
//
// The loop is scanList's, written out here so that a small span costs one
// call, not two.
func (m *Matcher) scanSpan(sp *span, best int32, q *query) int32 {
	if sp.n < 0 {
		return m.scanBig(sp, best, q)
	}
	pbit, dp := q.pbit, q.dp
	for i, end := sp.off, sp.off+int32(sp.n); i < end; i++ {
		e := &m.entries[i]
		if e.order >= best {
			break
		}
		if e.fits(pbit, dp) && (e.flags == 0 || m.check(e, q)) {
			return e.order
		}
	}
	return best
}

// scanList returns the order of the first entry of m.entries[i:end] that
// matches q and comes before best, or best.
func (m *Matcher) scanList(i, end, best int32, q *query) int32 {
	pbit, dp := q.pbit, q.dp
	for ; i < end; i++ {
		e := &m.entries[i]
		if e.order >= best {
			break
		}
		if e.fits(pbit, dp) && (e.flags == 0 || m.check(e, q)) {
			return e.order
		}
	}
	return best
}

// scanBig scans the two candidate lists of a big span; the rest list may
// hold an earlier match than the port list.
func (m *Matcher) scanBig(sp *span, best int32, q *query) int32 {
	ports, rest := m.bigLists(sp, q)
	best = m.scanList(ports[0], ports[1], best, q)
	return m.scanList(rest[0], rest[1], best, q)
}

// bigLists returns the bounds in m.entries of the two lists of a big span
// that hold the candidates for q: the entries listed under the flow's
// destination port (tcp and udp only), and the rest of the flow's
// protocol class.
func (m *Matcher) bigLists(sp *span, q *query) (ports, rest [2]int32) {
	rec := m.bigs[sp.off:]
	c := bits.TrailingZeros8(q.pbit)
	if c < 2 {
		if n := rec[bigPorts+2*c+1]; n > 0 {
			t := m.bigs[rec[bigPorts+2*c] : rec[bigPorts+2*c]+2*n+2]
			i := 2 * findPortTable(t[:2*n], q.dp)
			ports = [2]int32{int32(t[i+1]), int32(t[i+3])}
		}
	}
	off, n := int32(rec[bigRest+2*c]), int32(rec[bigRest+2*c+1])
	return ports, [2]int32{off, off + n}
}

// fits reports whether e matches a flow of protocol bit pbit and
// destination port dp on protocol and destination port; the entry's flags
// ask for the other checks (the addresses were matched by the keys that led
// to e).
func (e *entry) fits(pbit uint8, dp uint16) bool {
	// One branch for protocol and port: the top bit of each term is set
	// when its check fails.
	proto := uint32(e.proto&pbit) - 1
	port := uint32(e.dW) - uint32(dp-e.dLo)
	return (proto|port)>>31 == 0
}

// check does the rare, slower checks an entry's flags ask for, expiry
// last, so that an expired rule is only reported when it matches.
func (m *Matcher) check(e *entry, q *query) bool {
	b := m.blob[e.ext:]
	var exp uint32
	if e.flags&fExpiring != 0 {
		exp, b = b[0], b[1:]
	}
	if e.flags&fSrcPorts != 0 {
		n := b[0]
		if !portsContain(b[1:1+n], q.sp) {
			return false
		}
		b = b[1+n:]
	}
	if e.flags&fMultiD != 0 {
		n := b[0]
		if !portsContain(b[1:1+n], q.dp) {
			return false
		}
		b = b[1+n:]
	}
	if e.flags&fVerifyS != 0 {
		n := b[0]
		if !intersects(b[1:1+n], q.sh, m.src.nodes) {
			return false
		}
		b = b[1+n:]
	}
	if e.flags&fVerifyD != 0 {
		n := b[0]
		if !intersects(b[1:1+n], q.dh, m.dst.nodes) {
			return false
		}
	}
	if e.flags&fExpiring != 0 && !q.now.Before(m.expires[exp]) {
		if q.ex != nil {
			*q.ex = append(*q.ex, e.order)
		}
		return false
	}
	return true
}

// portsContain reports whether p lies in one of rs (low<<16|high, sorted,
// disjoint).
func portsContain(rs []uint32, p uint16) bool {
	lo, hi := 0, len(rs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if uint16(rs[mid]) < p {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(rs) && uint16(rs[lo]>>16) <= p
}

// intersects reports whether the chain from head shares an id with ids
// (sorted).
func intersects(ids []uint32, head int32, nodes []pnode) bool {
	for h := head; h > 0; h = nodes[h].parent {
		c := uint32(h)
		lo, hi := 0, len(ids)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if ids[mid] < c {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if lo < len(ids) && ids[lo] == c {
			return true
		}
	}
	return false
}
