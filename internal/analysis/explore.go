package analysis

import (
	"math/bits"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
)

// explore learns, class by class and rule by rule, which rules decide
// flows (with a witness each), whether a reached rule's flows would get
// another action without it, which items take the flows of unreachable
// rules, and which policies are reached. Each rule is looked at only
// within its own match set, with the items an index finds there, so the
// cost follows how much rules overlap, not the size of the partition of
// the whole space.
func (m *Model) explore(redundancy, covers, conflicts bool, maxConflicts int) *results {
	n := len(m.items)
	res := &results{reached: make([]bool, n), wit: make([]point, n), witClass: make([]class, n),
		differs: make([]bool, n), takers: make([][]int32, n), maxOrder: -1, covers: make([][]int32, n)}
	e := &explorer{m: m, res: res, redundancy: redundancy, covers: covers, sc: newScratch(n), seen: newScratch(n), taken: newScratch(n), holder: make([]int32, n)}
	e.visitLater = e.laterVisit
	for c := range nClasses {
		if len(m.cands[c]) > 0 {
			e.class(c)
		}
	}
	m.reachPolicies(res)
	if conflicts {
		m.findConflicts(res, maxConflicts)
	}
	return res
}

// explorer is the state of explore, reused from rule to rule and class to
// class so that the walks allocate little.
type explorer struct {
	m                  *Model
	res                *results
	redundancy, covers bool
	sc                 *scratch
	seen               *scratch // marks the deciders a walk has found
	taken              *scratch // marks the later items that take a rule's flows
	// holder is, by item of the current class, the first earlier item
	// whose match set holds the item's, or -1.
	holder []int32
	c      class
	shapes []*shape
	// live indexes the items of the class no single earlier item holds:
	// an item held by an earlier one decides no flow, so it can be left
	// out of every walk without changing any decision. The rules held by
	// a live rule first are in heldBy: without that rule they may decide.
	live   *classIndex
	heldBy map[int32][]int32
	// liveAll says live is the index of every item, held ones included.
	liveAll bool
	w, sub  *walker
	memo    coverMemo
	buf     []int32
	later   []int32
	atPt    []int32
	pt      [nDims]iv
	// The rule whose redundancy a walk checks, and its action.
	r          int32
	act        firewall.Action
	visitLater visitFunc
}

// class explores class c.
func (e *explorer) class(c class) {
	m := e.m
	e.c, e.shapes = c, m.shapes[c]
	x := m.index(c)
	live := make([]int32, 0, len(m.cands[c]))
	e.heldBy = map[int32][]int32{}
	for _, i := range m.cands[c] {
		h := int32(-1)
		if m.items[i].kind == kindRule {
			h = x.firstHolder(e.shapes[i], e.shapes, i)
		}
		e.holder[i] = h
		if h < 0 {
			live = append(live, i)
		} else {
			e.heldBy[h] = append(e.heldBy[h], i)
		}
	}
	// When few rules are held, indexing the others apart costs more than
	// walking with the held ones, which is just as exact.
	e.liveAll = 4*len(live) >= 3*len(m.cands[c])
	e.live = x
	if !e.liveAll {
		e.live = m.indexOf(c, live)
	}
	e.w = m.walker(c)
	e.sub = &walker{shapes: e.shapes, known: e.taken}
	e.memo = coverMemo{}
	for _, r := range m.cands[c] {
		if m.items[r].kind != kindRule || e.res.reached[r] && (!e.redundancy || e.res.differs[r]) {
			continue
		}
		if e.holder[r] >= 0 {
			e.held(r)
			continue
		}
		if !e.probe(r) {
			e.walkRule(r)
		}
	}
	e.live, e.heldBy, e.memo = nil, nil, nil
}

// held handles a rule an earlier item holds whole: it decides nothing in
// the class, and what takes its flows is what takes them from the items
// up to its holder, the same for every rule of its shape, so that is
// walked once a shape.
func (e *explorer) held(r int32) {
	if !e.covers || e.res.reached[r] {
		return
	}
	s := e.shapes[r]
	key := s.key()
	d, ok := e.memo[key]
	if !ok {
		e.buf = e.live.candidates(e.sc, s, e.shapes, 0, e.holder[r]+1, e.buf)
		d = e.deciders(s, e.buf)
		e.memo[key] = d
	}
	e.addCovers(r, d)
}

// addCovers adds to the items that take rule r's flows those of d
// (sorted, distinct), sharing d when they are the first.
func (e *explorer) addCovers(r int32, d []int32) {
	if cv := e.res.covers[r]; len(cv) > 0 {
		e.res.covers[r] = append(cv, d...)
		return
	}
	e.res.covers[r] = d[:len(d):len(d)]
}

// deciders returns, sorted, the items of cands (in evaluation order; the
// last one holds s) that decide some flow of s.
func (e *explorer) deciders(s *shape, cands []int32) []int32 {
	sc := e.seen
	sc.next()
	var d []int32
	e.w.known = sc
	e.w.regionWalk(s, cands, func(_ box, cands []int32) bool {
		if it := cands[0]; sc.stamp[it] != sc.cur {
			sc.stamp[it] = sc.cur
			d = append(d, it)
		}
		return true
	})
	e.w.known = nil
	slices.Sort(d)
	return d
}

// A live rule is probed at a few points of its match set before it is
// walked: reachProbes while none is decided by it, and up to
// differProbes in all while looking for one whose next decider acts
// differently.
const (
	reachProbes  = 8
	differProbes = 32
)

// probe tries a few points of rule r's match set, each decided as the
// engine would from the items that hold it. A point r decides shows r
// reachable; one whose next decider acts differently shows r is not
// redundant. It reports whether that settles r in this class, so that
// the walk is left for the rules that are unreachable, redundant, or
// decide too little of their match set to be hit.
func (e *explorer) probe(r int32) bool {
	res := e.res
	s := e.shapes[r]
	act := e.m.items[r].action
	hit := false
	for k := 0; k < differProbes && (hit || k < reachProbes); k++ {
		p := probePoint(s, uint64(r), k)
		next, ok := e.nextAt(p, r)
		if !ok {
			continue
		}
		hit = true
		if !res.reached[r] {
			res.reached[r], res.wit[r], res.witClass[r] = true, p, e.c
			res.covers[r] = nil
		}
		if !e.redundancy {
			return true
		}
		if e.m.items[next].action != act {
			res.differs[r], res.takers[r] = true, nil
			return true
		}
	}
	return false
}

// nextAt reports whether rule r decides point p and, if so, which item
// decides p without r.
func (e *explorer) nextAt(p point, r int32) (int32, bool) {
	for d := range nDims {
		e.pt[d] = iv{p[d], p[d]}
	}
	ps := shape{e.pt[0:1], e.pt[1:2], e.pt[2:3], e.pt[3:4]}
	e.atPt = e.live.candidates(e.sc, &ps, e.shapes, 0, int32(len(e.m.items)), e.atPt)
	if len(e.atPt) < 2 || e.atPt[0] != r {
		// The firewall default holds every point, so a point r decides
		// has a next decider.
		return 0, false
	}
	next := e.atPt[1]
	b := box(e.pt)
	for _, j := range e.heldBy[r] {
		if j >= next {
			break
		}
		if e.shapes[j].meets(&b) {
			return j, true
		}
	}
	return next, true
}

// walkRule walks the match set of live rule r with the earlier live
// items that meet it: the pieces others decide are what takes its flows
// when it is unreachable; the pieces it decides are walked again with the
// later items to tell whether it is redundant.
func (e *explorer) walkRule(r int32) {
	res := e.res
	s := e.shapes[r]
	e.r, e.act = r, e.m.items[r].action
	reachedBefore := res.reached[r]
	haveLater := false
	e.buf = e.live.candidates(e.sc, s, e.shapes, 0, r, e.buf)
	e.buf = append(e.buf, r)
	seen := e.seen
	seen.next()
	e.w.regionWalk(s, e.buf, func(b box, cands []int32) bool {
		dec := cands[0]
		if dec != r {
			if e.covers && !reachedBefore && seen.stamp[dec] != seen.cur {
				seen.stamp[dec] = seen.cur
				res.covers[r] = append(res.covers[r], dec)
			}
			return true
		}
		if !res.reached[r] {
			res.reached[r], res.wit[r], res.witClass[r] = true, sample(&b), e.c
			res.covers[r] = nil
		}
		if !e.redundancy {
			return false
		}
		if !haveLater {
			e.laterItems(r)
			e.taken.next()
			haveLater = true
		}
		e.sub.walkFrom(b, e.later, e.visitLater)
		return !res.differs[r]
	})
}

// laterItems sets e.later to the items after r, in evaluation order, that
// may decide r's flows without r: the live ones that meet it, and those r
// holds first.
func (e *explorer) laterItems(r int32) {
	e.later = e.live.candidates(e.sc, e.shapes[r], e.shapes, r+1, int32(len(e.m.items)), e.later)
	if h := e.heldBy[r]; len(h) > 0 && !e.liveAll {
		e.later = append(e.later, h...)
		slices.Sort(e.later)
	}
}

// laterVisit records the later item that decides a piece of e.r's, and
// stops the walk when it acts differently.
func (e *explorer) laterVisit(_ box, cands []int32) bool {
	res, r := e.res, e.r
	if e.m.items[cands[0]].action != e.act {
		res.differs[r] = true
		res.takers[r] = nil
		return false
	}
	if it := cands[0]; e.taken.stamp[it] != e.taken.cur {
		e.taken.stamp[it] = e.taken.cur
		res.takers[r] = append(res.takers[r], it)
	}
	return true
}

// coverMemo remembers, per shape of one class, the items that decide the
// flows of that shape; a rule base that reuses address objects has many
// rules of one shape.
type coverMemo map[string][]int32

// regionWalk walks the region s (which the last candidate covers) with
// cands: in evaluation order, every item that overlaps s.
func (w *walker) regionWalk(s *shape, cands []int32, visit visitFunc) bool {
	var b box
	single := true
	for d := range nDims {
		l := s[d]
		b[d] = iv{l[0].lo, l[len(l)-1].hi}
		single = single && len(l) == 1
	}
	w.q = nil
	if !single {
		w.q = s
	}
	ok := w.walk(b, cands, single, visit)
	w.q = nil
	return ok
}

// probePoint returns the k-th point of s a probe tries: first its lowest
// corner (with an ephemeral source port where s has one), as an example
// people recognise, then points spread over it, the same for the same
// seed.
func probePoint(s *shape, seed uint64, k int) point {
	var p point
	if k == 0 {
		for d := range nDims {
			p[d] = s[d][0].lo
		}
		eph := u128{0, 49152}
		l := s[dimSport]
		if i := first(l, eph); i < len(l) && !eph.less(l[i].lo) {
			p[dimSport] = eph
		}
		return p
	}
	st := seed<<8 + uint64(k)
	for d := range nDims {
		l := s[d]
		x := l[splitmix(&st)%uint64(len(l))]
		p[d] = randIn(x, splitmix(&st), splitmix(&st))
	}
	return p
}

// splitmix advances st and returns the next value of the SplitMix64
// sequence: a cheap, well-mixed, reproducible choice of points.
func splitmix(st *uint64) uint64 {
	*st += 0x9e3779b97f4a7c15
	z := *st
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// randIn returns a value of x chosen by the random words a and b.
func randIn(x iv, a, b uint64) u128 {
	wlo, borrow := bits.Sub64(x.hi.lo, x.lo.lo, 0)
	whi, _ := bits.Sub64(x.hi.hi, x.lo.hi, borrow)
	var o u128
	if whi == 0 {
		o.lo = upTo(a, wlo)
	} else {
		o.hi, o.lo = upTo(b, whi), a
		if o.hi == whi {
			o.lo = upTo(a, wlo)
		}
	}
	lo, carry := bits.Add64(x.lo.lo, o.lo, 0)
	hi, _ := bits.Add64(x.lo.hi, o.hi, carry)
	return u128{hi, lo}
}

// upTo maps a to [0, w].
func upTo(a, w uint64) uint64 {
	if w == ^uint64(0) {
		return a
	}
	return a % (w + 1)
}
