package export

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Merging (Options.Merge) joins consecutive nftables statements of one
// family, protocol and verdict into one, with a set or a concatenation of
// the statements' elements. It is exact: two consecutive statements with
// the same verdict decide every packet either matches as their union does,
// since nothing lies between them. A statement without a field of the
// concatenation takes its whole range there (0.0.0.0/0, ::/0, 0-65535),
// which is what "any" means. Concatenated interval sets must not hold
// overlapping elements, so a statement that overlaps the group starts a new
// one; a rule whose lists multiply into more than maxRuleTuples elements is
// not merged.
const (
	maxRuleTuples  = 64
	maxGroupTuples = 1024
)

// field bits of a statement's shape.
const (
	fSaddr = 1 << iota
	fDaddr
	fSport
	fDport
)

// stmtKey is a statement's shape and verdict: statements merge only with
// equal keys.
type stmtKey struct {
	fam     family // 0: both families, no address match
	l4      string // "meta l4proto X " for icmp, icmpv6 and the tcp half of a protocol-any reject
	proto   string // "tcp" or "udp"
	verdict string
}

// stmt is one statement before merging: its key and its lists.
type stmt struct {
	key            stmtKey
	mask           int // fSaddr | fDaddr | fSport | fDport
	src, dst       []netip.Prefix
	sports, dports []firewall.PortRange
	label          string // the rule's comment label
	ruleID         string
}

// elem is one field of a concatenation element: a prefix or a port range.
type elem struct {
	p netip.Prefix
	r firewall.PortRange
}

// overlaps reports whether two elements of one field meet; the zero elem
// is the field's whole range.
func (e elem) overlaps(o elem) bool {
	switch {
	case e == elem{} || o == elem{}:
		return true
	case e.p.IsValid():
		return e.p.Overlaps(o.p)
	}
	return e.r.Low <= o.r.High && o.r.Low <= e.r.High
}

type tuple [4]elem

// group is a run of statements with one key, waiting to be written.
type group struct {
	stmts  []stmt
	mask   int     // the union of the members' fields
	tuples []tuple // the members' elements, once the group is a concatenation
	seen   map[tuple]bool
}

// tuplesOf returns the cross product of s's lists, or nil when it exceeds
// maxRuleTuples.
func tuplesOf(s *stmt) []tuple {
	n := 1
	for _, l := range []int{len(s.src), len(s.dst), len(s.sports), len(s.dports)} {
		n *= max(l, 1)
	}
	if n > maxRuleTuples {
		return nil
	}
	out := []tuple{{}}
	expand := func(i int, es []elem) {
		if len(es) == 0 {
			return
		}
		next := make([]tuple, 0, len(out)*len(es))
		for _, t := range out {
			for _, e := range es {
				t[i] = e
				next = append(next, t)
			}
		}
		out = next
	}
	expand(0, prefixElems(s.src))
	expand(1, prefixElems(s.dst))
	expand(2, portElems(s.sports))
	expand(3, portElems(s.dports))
	return out
}

func prefixElems(ps []netip.Prefix) []elem {
	out := make([]elem, len(ps))
	for i, p := range ps {
		out[i] = elem{p: p}
	}
	return out
}

func portElems(prs []firewall.PortRange) []elem {
	out := make([]elem, len(prs))
	for i, pr := range prs {
		out[i] = elem{r: pr}
	}
	return out
}

// fields counts the bits of mask.
func fields(mask int) int {
	n := 0
	for ; mask != 0; mask &= mask - 1 {
		n++
	}
	return n
}

// add puts s into the pending group, writing the group first when s
// cannot join it.
func (w *nftWriter) add(s stmt) {
	g := &w.pending
	if len(g.stmts) > 0 && !w.joins(s) {
		w.flush()
	}
	if len(g.stmts) == 0 {
		g.mask = s.mask
	}
	g.stmts = append(g.stmts, s)
}

// joins reports whether s can join the pending group, and if so records
// its elements.
func (w *nftWriter) joins(s stmt) bool {
	g := &w.pending
	if g.stmts[0].key != s.key {
		return false
	}
	if g.tuples == nil && s.mask == g.mask && fields(s.mask) <= 1 {
		return true // a plain set: the union, overlaps and all
	}
	if g.tuples == nil && len(g.stmts) > 1 {
		return false // a plain set of two or more cannot turn into a concatenation
	}
	ts := tuplesOf(&s)
	if ts == nil {
		return false
	}
	tuples, seen := g.tuples, g.seen
	if tuples == nil { // the group's one statement becomes a concatenation
		tuples = tuplesOf(&g.stmts[0])
		if tuples == nil {
			return false
		}
		seen = make(map[tuple]bool, len(tuples))
		for _, t := range tuples {
			seen[t] = true
		}
	}
	if len(tuples)+len(ts) > maxGroupTuples {
		return false
	}
	var fresh []tuple
	for _, t := range ts {
		if seen[t] {
			continue // the same element twice is the same match
		}
		for _, o := range tuples {
			if overlaps(t, o) {
				return false
			}
		}
		fresh = append(fresh, t)
	}
	for _, t := range fresh {
		seen[t] = true
	}
	g.tuples, g.seen = slices.Concat(tuples, fresh), seen
	g.mask |= s.mask
	return true
}

func overlaps(a, b tuple) bool {
	for i := range 4 {
		if !a[i].overlaps(b[i]) {
			return false
		}
	}
	return true
}

// flush writes the pending group as one statement.
func (w *nftWriter) flush() {
	g := &w.pending
	if len(g.stmts) == 0 {
		return
	}
	k := g.stmts[0].key
	b := w.out
	b = append(b, "\t\t"...)
	if k.fam != 0 && g.mask&(fSaddr|fDaddr) == 0 {
		b = append(b, "meta nfproto ipv"...)
		b = append(b, byte('0'+k.fam), ' ')
	}
	if k.proto != "" && g.mask&(fSport|fDport) == 0 {
		b = append(b, "meta l4proto "+k.proto+" "...)
	}
	ip, anyNet := "ip", "0.0.0.0/0"
	if k.fam == fam6 {
		ip, anyNet = "ip6", "::/0"
	}
	if g.tuples == nil {
		// One statement, or a union of one field.
		var src, dst []netip.Prefix
		var sp, dp []firewall.PortRange
		for i := range g.stmts {
			s := &g.stmts[i]
			src, dst = append(src, s.src...), append(dst, s.dst...)
			sp, dp = append(sp, s.sports...), append(dp, s.dports...)
		}
		if len(g.stmts) > 1 {
			src, dst, sp, dp = minimal(src), minimal(dst), mergePorts(sp), mergePorts(dp)
		}
		b = appendNftAddrs(b, ip, " saddr ", src)
		b = appendNftAddrs(b, ip, " daddr ", dst)
		b = appendNftPorts(b, k.proto, " sport ", sp)
		b = appendNftPorts(b, k.proto, " dport ", dp)
	} else {
		names := []string{ip + " saddr", ip + " daddr", k.proto + " sport", k.proto + " dport"}
		first := true
		for i, n := range names {
			if g.mask&(1<<i) == 0 {
				continue
			}
			if !first {
				b = append(b, " . "...)
			}
			b = append(b, n...)
			first = false
		}
		b = append(b, " { "...)
		for ti, t := range g.tuples {
			if ti > 0 {
				b = append(b, ", "...)
			}
			first := true
			for i := range 4 {
				if g.mask&(1<<i) == 0 {
					continue
				}
				if !first {
					b = append(b, " . "...)
				}
				first = false
				switch {
				case i < 2 && t[i] == elem{}:
					b = append(b, anyNet...)
				case i < 2:
					b = appendPrefix(b, t[i].p)
				case t[i] == elem{}:
					b = append(b, "0-65535"...)
				default:
					b = appendPortRange(b, t[i].r, '-')
				}
			}
		}
		b = append(b, " } "...)
	}
	b = append(b, k.l4...)
	b = append(b, k.verdict...)
	b = append(b, " comment \""...)
	b = append(b, w.groupComment()...)
	b = append(b, "\"\n"...)
	w.out = b
	w.res.Statements++
	g.stmts, g.tuples, g.seen, g.mask = g.stmts[:0], nil, nil, 0
}

// groupComment is the rule's label for one rule, else the first and last
// rule ids and how many rules the statement holds.
func (w *nftWriter) groupComment() string {
	ss := w.pending.stmts
	n := 1
	for i := 1; i < len(ss); i++ {
		if ss[i].ruleID != ss[i-1].ruleID {
			n++
		}
	}
	if n == 1 {
		return ss[0].label
	}
	return commentText("rules "+ss[0].ruleID+" .. "+ss[len(ss)-1].ruleID+" ("+strconv.Itoa(n)+" rules)", nftCommentMax)
}

// mergeLines is lines for merging: it hands the rule's statements to add.
func (w *nftWriter) mergeLines(pr *planRule, pt *part, f family, comment string) {
	r := pr.r
	s := stmt{label: comment, ruleID: r.ID, sports: pr.sports, dports: pr.dports}
	if pt != nil {
		s.key.fam = f
		s.src, s.dst = pt.src, pt.dst
	}
	for i, n := range []int{len(s.src), len(s.dst), len(s.sports), len(s.dports)} {
		if n > 0 {
			s.mask |= 1 << i
		}
	}
	switch r.Protocol {
	case firewall.TCP, firewall.UDP:
		s.key.proto = string(r.Protocol)
	case firewall.ICMP:
		s.key.l4 = "meta l4proto icmp "
	case firewall.ICMPv6:
		s.key.l4 = "meta l4proto ipv6-icmp "
	}
	switch {
	case r.Action == firewall.Allow:
		s.key.verdict = "accept"
	case r.Action == firewall.Deny:
		s.key.verdict = "drop"
	case r.Protocol == firewall.TCP:
		s.key.verdict = "reject with tcp reset"
	case r.Protocol == firewall.AnyProtocol:
		tcp := s
		tcp.key.l4 = "meta l4proto tcp "
		tcp.key.verdict = "reject with tcp reset"
		w.add(tcp)
		s.key.verdict = "reject with icmpx type admin-prohibited"
	default:
		s.key.verdict = "reject with icmpx type admin-prohibited"
	}
	w.add(s)
}
