package engine

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
)

// crossLimit bounds the (source × destination) entries one rule gets. A rule
// with longer lists is keyed on its shorter list only and checks the other
// one by prefix id.
const crossLimit = 64

// anyID is the id list of an empty prefix list. Read only.
var anyID = []int32{0}

// bigBucket is the size above which a span is split by protocol and
// destination port. Below it, a scan that stops at the first match is
// cheaper than the split's record and port search (callgrind, realistic
// 100,000 rules: at 64, 1178 instructions and 3.2 misses of a 1 MB cache a
// flow; at 128, 1159 and 3.0).
const bigBucket = 128

func terminal(a firewall.Action) bool {
	return a == firewall.Allow || a == firewall.Deny || a == firewall.Reject
}

func ruleProtoMask(p firewall.Protocol) uint8 {
	switch p {
	case firewall.AnyProtocol:
		return pAll
	case firewall.TCP:
		return pTCP
	case firewall.UDP:
		return pUDP
	case firewall.ICMP:
		return pICMP
	case firewall.ICMPv6:
		return pICMP6
	}
	return 0 // an unknown protocol matches nothing
}

// Compile builds a matcher for t. It trusts the domain's validation but
// does not depend on it: it never panics, and entries the domain would
// refuse match nothing (an invalid prefix or port range in a list, a rule
// with an unknown protocol or an action other than allow, deny or reject).
// A list whose entries are all invalid matches nothing; it is not "any".
// A policy default other than allow, deny or reject moves on like next.
// The only errors are a firewall default action that cannot decide a flow,
// and more than a billion distinct prefixes.
func Compile(t firewall.Tree) (*Matcher, error) {
	return compile(t, bigBucket)
}

// compile is Compile with big as the size above which a span is split;
// tests lower it to check the split on small firewalls.
func compile(t firewall.Tree, big int) (*Matcher, error) {
	if !terminal(t.Firewall.DefaultAction) {
		return nil, fmt.Errorf("engine: firewall %q has default action %q; it must be allow or deny",
			t.Firewall.ID, t.Firewall.DefaultAction)
	}
	m := &Matcher{revision: t.Firewall.Revision, fwDefault: t.Firewall.DefaultAction, cut: -1}
	b := newBuilder(m, big)

	pidx := make([]int, len(t.Policies))
	for i := range pidx {
		pidx[i] = i
	}
	slices.SortStableFunc(pidx, func(i, j int) int {
		a, c := &t.Policies[i].Policy, &t.Policies[j].Policy
		return cmp.Or(cmp.Compare(a.Priority, c.Priority), cmp.Compare(a.ID, c.ID))
	})
	var ridx []int
	for _, pi := range pidx {
		pt := &t.Policies[pi]
		p := &pt.Policy
		cp := cpolicy{id: p.ID, name: p.Name, enabled: p.Enabled}
		if terminal(p.DefaultAction) {
			cp.def = p.DefaultAction
		}
		m.policies = append(m.policies, cp)
		if !p.Enabled || m.cut >= 0 {
			continue // policies after the first deciding default are never reached
		}
		pol := int32(len(m.policies) - 1)
		ridx = ridx[:0]
		for i := range pt.Rules {
			ridx = append(ridx, i)
		}
		slices.SortStableFunc(ridx, func(i, j int) int {
			a, c := &pt.Rules[i], &pt.Rules[j]
			return cmp.Or(cmp.Compare(a.Position, c.Position), cmp.Compare(a.ID, c.ID))
		})
		for _, ri := range ridx {
			r := &pt.Rules[ri]
			if len(r.SourceGroups) == 0 && len(r.DestinationGroups) == 0 && len(r.ServiceGroups) == 0 {
				b.addRule(r, pol, nil)
				continue
			}
			b.addGrouped(r, pol, &t.Groups)
		}
		if cp.def != "" {
			m.cut = pol
		}
	}
	if max(len(b.srcP), len(b.dstP)) >= v4Table { // ids must fit the index entries
		return nil, fmt.Errorf("engine: firewall %q has more than %d distinct prefixes on a side", t.Firewall.ID, v4Table-1)
	}
	b.finish()
	return m, nil
}

type builder struct {
	m              *Matcher
	srcIDs, dstIDs map[netip.Prefix]int32
	srcP, dstP     []netip.Prefix // by id; id 0 is ANY
	items          []item
	sbuf, dbuf     []int32
	big            int // spans of more entries are split
	// pendingGroups is the index in Matcher.groups of the rule being
	// added, or -1 for a rule without groups.
	pendingGroups int32
	// expanded caches group expansions by id during one compile.
	addrCache map[string][]netip.Prefix
	svcCache  map[string][]firewall.Service
}

type item struct {
	key uint64
	e   entry
}

func newBuilder(m *Matcher, big int) *builder {
	return &builder{
		m:      m,
		big:    big,
		srcIDs: map[netip.Prefix]int32{},
		dstIDs: map[netip.Prefix]int32{},
		srcP:   []netip.Prefix{{}},
		dstP:   []netip.Prefix{{}},

		pendingGroups: -1,
	}
}

// intern returns the sorted ids of the valid prefixes of list, and whether
// the list can match at all.
func intern(list []netip.Prefix, ids map[netip.Prefix]int32, byID *[]netip.Prefix, out []int32) ([]int32, bool) {
	out = out[:0]
	for _, p := range list {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		id, ok := ids[p]
		if !ok {
			id = int32(len(*byID))
			*byID = append(*byID, p)
			ids[p] = id
		}
		out = append(out, id)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	return out, len(out) > 0 || len(list) == 0
}

// normPorts returns the valid ranges of list, sorted and merged, and
// whether the list can match at all.
func normPorts(list []firewall.PortRange) ([]firewall.PortRange, bool) {
	var out []firewall.PortRange
	for _, r := range list {
		if r.Low >= 1 && r.Low <= r.High {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b firewall.PortRange) int { return cmp.Compare(a.Low, b.Low) })
	n := 0
	for _, r := range out {
		if n > 0 && int(r.Low) <= int(out[n-1].High)+1 {
			out[n-1].High = max(out[n-1].High, r.High)
			continue
		}
		out[n] = r
		n++
	}
	return out[:n], n > 0 || len(list) == 0
}

// addRule adds r's entries. svcs, when not nil, replaces r's protocol and
// destination ports: the rule then matches a flow that one of them
// matches (see addGrouped).
func (b *builder) addRule(r *firewall.Rule, pol int32, svcs []firewall.Service) {
	if !r.Enabled || !terminal(r.Action) {
		return
	}
	if svcs == nil {
		proto, ok := serviceProto(r.Protocol, len(r.SourcePorts) > 0 || len(r.DestinationPorts) > 0)
		if !ok || !b.internRule(r) {
			return
		}
		b.addService(r, pol, -1, proto, r.DestinationPorts)
		return
	}
	if !b.internRule(r) {
		return
	}
	order := int32(-1)
	for _, sv := range svcs {
		proto, ok := serviceProto(sv.Protocol, len(r.SourcePorts) > 0 || len(sv.Ports) > 0)
		if ok {
			order = b.addService(r, pol, order, proto, sv.Ports)
		}
	}
}

// internRule interns r's addresses into b.sbuf and b.dbuf, and reports
// whether its address and source port lists can match at all.
func (b *builder) internRule(r *firewall.Rule) bool {
	var ok1, ok2 bool
	b.sbuf, ok1 = intern(r.Sources, b.srcIDs, &b.srcP, b.sbuf)
	b.dbuf, ok2 = intern(r.Destinations, b.dstIDs, &b.dstP, b.dbuf)
	_, ok3 := normPorts(r.SourcePorts)
	return ok1 && ok2 && ok3
}

// serviceProto returns the protocol bits of a protocol, kept to tcp and
// udp when ports are listed, and whether any are left.
func serviceProto(p firewall.Protocol, ports bool) (uint8, bool) {
	proto := ruleProtoMask(p)
	if ports {
		proto &= pPorts // a port list never matches a flow without ports
	}
	return proto, proto != 0
}

// addService adds the entries of r, interned, for one service: protocol bits proto
// and destination ports dportList. order is r's evaluation order, or -1
// if r has none yet, in which case it gets the next one if the service
// can match. It returns r's order.
func (b *builder) addService(r *firewall.Rule, pol, order int32, proto uint8, dportList []firewall.PortRange) int32 {
	sports, _ := normPorts(r.SourcePorts)
	dports, ok := normPorts(dportList)
	if !ok {
		return order
	}

	m := b.m
	if order < 0 {
		order = int32(len(m.rules))
		m.rules = append(m.rules, crule{id: r.ID, action: actionCode(r.Action), policy: pol, groups: b.pendingGroups})
	}
	e := entry{order: order, proto: proto, dW: math.MaxUint16}
	if len(sports) > 0 {
		e.flags |= fSrcPorts
	}
	if len(dports) > 0 {
		e.dLo, e.dW = dports[0].Low, dports[len(dports)-1].High-dports[0].Low
		if len(dports) > 1 {
			e.flags |= fMultiD
		}
	}
	if r.ExpiresAt != nil {
		e.flags |= fExpiring
	}
	ss, ds := b.sbuf, b.dbuf
	if len(ss) == 0 {
		ss = anyID
	}
	if len(ds) == 0 {
		ds = anyID
	}
	var verify []int32
	if len(ss)*len(ds) > crossLimit {
		if len(ss) <= len(ds) {
			e.flags |= fVerifyD
			verify, ds = ds, anyID
		} else {
			e.flags |= fVerifyS
			verify, ss = ss, anyID
		}
	}
	if e.flags != 0 { // write the record
		e.ext = int32(len(m.blob))
		if r.ExpiresAt != nil {
			m.blob = append(m.blob, uint32(len(m.expires)))
			m.expires = append(m.expires, *r.ExpiresAt)
		}
		appendPorts := func(ports []firewall.PortRange) {
			m.blob = append(m.blob, uint32(len(ports)))
			for _, pr := range ports {
				m.blob = append(m.blob, uint32(pr.Low)<<16|uint32(pr.High))
			}
		}
		if e.flags&fSrcPorts != 0 {
			appendPorts(sports)
		}
		if e.flags&fMultiD != 0 {
			appendPorts(dports)
		}
		if len(verify) > 0 {
			m.blob = append(m.blob, uint32(len(verify)))
			for _, id := range verify {
				m.blob = append(m.blob, uint32(id))
			}
		}
	}
	for _, s := range ss {
		for _, d := range ds {
			b.items = append(b.items, item{key: pairKey(s, d), e: e})
		}
	}
	return order
}

func (b *builder) finish() {
	m := b.m
	// Group the entries by key; within a key they stay in order.
	slices.SortStableFunc(b.items, func(x, y item) int { return cmp.Compare(x.key, y.key) })
	// The address indexes and chains first: dropping the shadowed entries
	// follows the chains.
	buildSide(&m.src, b.srcP)
	buildSide(&m.dst, b.dstP)
	b.dropShadowed()

	empty := span{first: math.MaxInt32}
	srcInfo, dstInfo := make([]pinfo, len(b.srcP)), make([]pinfo, len(b.dstP))
	for _, info := range [][]pinfo{srcInfo, dstInfo} {
		for i := range info {
			info[i] = pinfo{any: empty, min: math.MaxInt32}
		}
	}
	for c := range m.anyAny {
		m.anyAny[c] = empty
	}
	var pairs []pairSlot
	for i := 0; i < len(b.items); {
		j := i
		key := b.items[i].key
		for j < len(b.items) && b.items[j].key == key {
			j++
		}
		s, d := int32(key>>32), int32(uint32(key))
		first := b.items[i].e
		if s == 0 && d == 0 {
			// (ANY, ANY) is tried for every flow: split it by protocol.
			for c := range m.anyAny {
				var es []entry
				for k := i; k < j; k++ {
					if e := b.items[k].e; e.proto&(1<<c) != 0 {
						es = append(es, e)
					}
				}
				if len(es) > 0 {
					m.anyAny[c] = b.addSpan(es)
				}
			}
			i = j
			continue
		}
		if s != 0 && d != 0 {
			srcInfo[s].min = min(srcInfo[s].min, first.order)
			dstInfo[d].min = min(dstInfo[d].min, first.order)
			if j-i == 1 { // inline in the pair table
				pairs = append(pairs, pairSlot{key, first})
				i = j
				continue
			}
		}
		es := make([]entry, 0, j-i)
		for k := i; k < j; k++ {
			es = append(es, b.items[k].e)
		}
		sp := b.addSpan(es)
		i = j
		switch {
		case s == 0:
			dstInfo[d].any = sp
		case d == 0:
			srcInfo[s].any = sp
		default:
			pairs = append(pairs, pairSlot{key, entry{order: sp.first, ext: int32(len(m.spans))}})
			m.spans = append(m.spans, sp)
		}
	}
	b.items = nil

	// The table is at most 70% full.
	m.bloom = newPairFilter(pairs, int32(len(m.rules)))
	m.pairs = pairTable{n: uint64(len(pairs)*10/7 + 8)}
	m.pairs.slots = make([]pairSlot, m.pairs.n)
	for i := range m.pairs.slots {
		m.pairs.slots[i].key = emptyKey
	}
	for _, p := range pairs {
		i, _ := bits.Mul64(hashKey(p.key), m.pairs.n)
		for m.pairs.slots[i].key != emptyKey {
			if i++; i == m.pairs.n {
				i = 0
			}
		}
		m.pairs.slots[i] = p
	}

	for _, x := range []struct {
		nodes []pnode
		info  []pinfo
	}{{m.src.nodes, srcInfo}, {m.dst.nodes, dstInfo}} {
		for id, in := range x.info {
			x.nodes[id].min, x.nodes[id].any = in.min, in.any
		}
	}
	for _, p := range pairs {
		s, d := int32(p.key>>32), int32(uint32(p.key))
		m.src.nodes[s].partners |= idBit(d)
		m.dst.nodes[d].partners |= idBit(s)
	}
}

// dropShadowed removes from b.items (grouped by key, in order within a
// key) the entries that can never decide a flow: those all of whose flows
// an earlier entry without flags matches, keyed on the same prefixes or on
// prefixes that contain them (ANY included), with protocols and a port
// range that hold the later entry's. Such an entry is dead: scanning it
// only costs. Rule bases repeat themselves and hide rules behind broader
// ones, the more so the more rules they have: the realistic 1,000-rule
// benchmark set keeps 1,051 of its 1,232 entries, the 100,000-rule one
// 16,892 of 126,065 (the "unique" one 21,278 of 126,712; the uniformly
// random 10,000-rule one, where an early any-to-any rule hides nearly
// everything, 281 of 32,491). The decisions are the same, and so is
// explain: a dropped entry never comes before the entry that beats it.
// Each entry is compared with the first shadowWindow entries without
// flags of each key on its chains, so that compiling stays linear in the
// entries.
func (b *builder) dropShadowed() {
	covers := map[uint64][]entry{}
	for _, it := range b.items {
		if c := covers[it.key]; it.e.flags == 0 && len(c) < shadowWindow {
			covers[it.key] = append(c, it.e)
		}
	}
	src, dst := b.m.src.nodes, b.m.dst.nodes
	out := b.items[:0]
	for _, it := range b.items {
		if !shadowed(it, covers, src, dst) {
			out = append(out, it)
		}
	}
	b.items = out
}

// shadowed reports whether an entry of covers, keyed on prefixes on the
// chains of the prefixes of it (ANY included), comes before it and covers
// it.
func shadowed(it item, covers map[uint64][]entry, src, dst []pnode) bool {
	for s := int32(it.key >> 32); ; s = src[s].parent {
		for d := int32(uint32(it.key)); ; d = dst[d].parent {
			for _, c := range covers[pairKey(s, d)] {
				if c.order >= it.e.order {
					break
				}
				if c.covers(&it.e) {
					return true
				}
			}
			if d == 0 {
				break
			}
		}
		if s == 0 {
			return false
		}
	}
}

// newPairFilter returns the filter of pairs, whose orders are below none,
// with about 12 bits a pair.
func newPairFilter(pairs []pairSlot, none int32) pairFilter {
	f := pairFilter{n: uint64(max(1, (len(pairs)*12+filterMinShift-1)/filterMinShift))}
	f.shift = uint8(max(0, bits.Len32(uint32(none))-(64-filterMinShift)))
	f.words = make([]uint64, f.n)
	for i := range f.words {
		f.words[i] = ^uint64(filterBitsMask) // no pair: the highest order
	}
	for _, p := range pairs {
		h := hashKey(p.key)
		wi, _ := bits.Mul64(h, f.n)
		w := &f.words[wi]
		low := min(*w>>filterMinShift, uint64(p.e.order>>f.shift))
		*w = low<<filterMinShift | *w&filterBitsMask | filterBits(h)
	}
	return f
}

// addSpan stores entries (in order) and returns their span.
func (b *builder) addSpan(es []entry) span {
	m := b.m
	sp := span{first: es[0].order, off: int32(len(m.entries)), n: int16(len(es))}
	for _, e := range es {
		sp.protos |= e.proto
	}
	if len(es) > b.big {
		sp.off, sp.n = m.buildBigIndex(es), -1
		return sp
	}
	m.entries = append(m.entries, es...)
	return sp
}

// shadowWindow bounds the entries dropShadowed compares an entry with.
const shadowWindow = 32

// covers reports whether every flow that e matches on protocol and
// destination port, c matches too.
func (c *entry) covers(e *entry) bool {
	return c.proto&e.proto == e.proto && c.dLo <= e.dLo &&
		uint32(e.dLo)+uint32(e.dW) <= uint32(c.dLo)+uint32(c.dW)
}

// pinfo is what the lookup needs to know about a prefix.
type pinfo struct {
	any span  // the entries of the pair (this prefix, ANY on the other side)
	min int32 // lowest order of an entry of the pair table keyed on this prefix
}

// buildSide indexes the prefixes of one side, and links each node to its
// parent.
func buildSide(s *side, byID []netip.Prefix) {
	s.nodes = make([]pnode, len(byID))
	var v4, v6 []prefixRange
	for id := 1; id < len(byID); id++ {
		p := byID[id]
		if p.Addr().Is4() {
			start := addrV4(p.Addr())
			v4 = append(v4, prefixRange{start: start, end: start.or(hostMask(32, p.Bits())), bits: p.Bits(), id: int32(id)})
		} else {
			start := addrV6(p.Addr())
			v6 = append(v6, prefixRange{start: start, end: start.or(hostMask(128, p.Bits())), bits: p.Bits(), id: int32(id)})
		}
	}
	parent := make([]int32, len(byID))
	bs, heads := intervals(v4, u128{0, math.MaxUint32}, parent)
	s.v4 = buildV4Index(bs, heads)
	bs, heads = intervals(v6, u128{math.MaxUint64, math.MaxUint64}, parent)
	s.v6 = buildV6Index(bs, heads)
	for id, p := range parent {
		s.nodes[id].parent = p
	}
}

// buildBigIndex splits a big span's entries (in order) by flow protocol,
// and those of tcp and udp with destination ports by destination port. It
// returns the offset of its record in m.bigs.
func (m *Matcher) buildBigIndex(es []entry) int32 {
	rec := len(m.bigs)
	m.bigs = append(m.bigs, make([]uint32, bigHead)...)
	for c := range 5 {
		bit := uint8(1) << c
		var rest, restricted []entry
		for _, e := range es {
			switch {
			case e.proto&bit == 0:
			case e.dLo != 0 && c < 2: // has destination ports
				restricted = append(restricted, e)
			default:
				rest = append(rest, e)
			}
		}
		if len(restricted) > 0 {
			overflow := m.buildPortTable(rec+bigPorts+2*c, restricted, 4*len(es)+256)
			if len(overflow) > 0 {
				rest = append(rest, overflow...)
				slices.SortStableFunc(rest, func(a, b entry) int { return cmp.Compare(a.order, b.order) })
			}
		}
		m.bigs[rec+bigRest+2*c] = uint32(len(m.entries))
		m.bigs[rec+bigRest+2*c+1] = uint32(len(rest))
		m.entries = append(m.entries, rest...)
	}
	return int32(rec)
}

// buildPortTable indexes entries (in order, all with destination ports) by
// destination port, copying an entry to every elementary port interval its
// ranges cover, and writes the table's offset and size at m.bigs[at:at+2].
// The entries whose copies would exceed budget are returned instead.
func (m *Matcher) buildPortTable(at int, es []entry, budget int) []entry {
	var buf [1]firewall.PortRange
	rangesOf := func(e *entry) []firewall.PortRange {
		if e.flags&fMultiD == 0 {
			buf[0] = firewall.PortRange{Low: e.dLo, High: e.dLo + e.dW}
			return buf[:]
		}
		var rs []firewall.PortRange
		for _, r := range m.field(e, fMultiD) {
			rs = append(rs, firewall.PortRange{Low: uint16(r >> 16), High: uint16(r)})
		}
		return rs
	}
	bounds := []uint16{0}
	for i := range es {
		for _, r := range rangesOf(&es[i]) {
			bounds = append(bounds, r.Low)
			if r.High < math.MaxUint16 {
				bounds = append(bounds, r.High+1)
			}
		}
	}
	slices.Sort(bounds)
	bounds = slices.Compact(bounds)

	// Copy the cheapest entries first, while the budget lasts.
	type cost struct {
		i, n int
	}
	costs := make([]cost, len(es))
	for i := range es {
		n := 0
		for _, r := range rangesOf(&es[i]) {
			n += int(findPort(bounds, r.High)-findPort(bounds, r.Low)) + 1
		}
		costs[i] = cost{i, n}
	}
	slices.SortStableFunc(costs, func(a, b cost) int { return cmp.Compare(a.n, b.n) })
	indexed := make([]bool, len(es))
	for _, c := range costs {
		if budget < c.n {
			break
		}
		budget -= c.n
		indexed[c.i] = true
	}
	var overflow []entry
	lists := make([][]entry, len(bounds))
	for i := range es { // in order, so every list is in order
		if !indexed[i] {
			overflow = append(overflow, es[i])
			continue
		}
		// In an interval's list, the destination port is known to match.
		e := es[i]
		rs := rangesOf(&e)
		if e.flags&^fMultiD == 0 {
			e.flags = 0
		}
		for _, r := range rs {
			for k := findPort(bounds, r.Low); k <= findPort(bounds, r.High); k++ {
				lists[k] = append(lists[k], e)
			}
		}
	}
	m.bigs[at], m.bigs[at+1] = uint32(len(m.bigs)), uint32(len(bounds))
	for i, l := range lists {
		m.bigs = append(m.bigs, uint32(bounds[i]), uint32(len(m.entries)))
		m.entries = append(m.entries, l...)
	}
	m.bigs = append(m.bigs, 0, uint32(len(m.entries)))
	return overflow
}
