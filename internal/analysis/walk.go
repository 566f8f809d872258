package analysis

import "slices"

// walker visits the first-match partition of a box of one class. It cuts
// the box in two until the first item that meets a piece covers it, and
// keeps with each piece exactly the items that meet it. While many items
// meet a piece, the cut is chosen to split them evenly (as a k-d tree
// would); once few do, it is made at a boundary of the first of them, so
// that the pieces are cut by the items that decide inside them, not by
// every item of the firewall.
type walker struct {
	shapes []*shape // by item, for the walker's class; nil: the item never matches
	q      *shape   // when set, only the part of the box inside q is visited
	buf    []int32  // stack of candidate lists, one a level
	// known, when set, marks items whose pieces the visitor has no more
	// use for: a box all of whose candidates are marked is skipped, since
	// every piece of it is decided by one of them.
	known *scratch
	vals  []u128 // scratch for choosing cuts
}

// visitFunc is called with each piece of the partition and the candidates
// from its decider on: cands[0] decides every point of b, and cands[1:]
// are exactly the later items that meet b. It returns false to stop the
// walk.
type visitFunc func(b box, cands []int32) bool

// balanceAbove is the number of candidates above which a piece is cut to
// split them evenly rather than at the first one's boundary.
const balanceAbove = 1 << 30

// walkFrom visits the partition of b by the items of cands (in evaluation
// order) that meet it. It returns false when visit stopped it.
func (w *walker) walkFrom(b box, cands []int32, visit visitFunc) bool {
	start := len(w.buf)
	for _, it := range cands {
		if s := w.shapes[it]; s != nil && s.meets(&b) {
			w.buf = append(w.buf, it)
		}
	}
	mine := w.buf[start:len(w.buf):len(w.buf)]
	ok := w.walk(b, mine, w.q == nil, visit)
	w.buf = w.buf[:start]
	return ok
}

// walk visits the partition of b by cands: exactly the items that meet b,
// in evaluation order. inQ says b lies inside w.q.
func (w *walker) walk(b box, cands []int32, inQ bool, visit visitFunc) bool {
	if !inQ {
		rel, d, at := w.q.relate(&b)
		switch rel {
		case disjoint:
			return true
		case covers:
			inQ = true
		default:
			return w.split(b, d, at, cands, false, visit)
		}
	}
	if len(cands) == 0 {
		return true // only when the items do not cover the class
	}
	if w.known != nil && w.known.all(cands) {
		return true
	}
	rel, d, at := w.shapes[cands[0]].relate(&b)
	if rel == covers {
		return visit(b, cands)
	}
	if len(cands) > balanceAbove {
		if bd, bat, ok := w.balancedCut(&b, cands); ok {
			d, at = bd, bat
		}
	}
	return w.split(b, d, at, cands, inQ, visit)
}

// split cuts b in two at value at of dimension d and walks both halves.
func (w *walker) split(b box, d int, at u128, cands []int32, inQ bool, visit visitFunc) bool {
	left, right := b, b
	left[d].hi = at.subOne()
	right[d].lo = at
	return w.child(left, d, cands, inQ, visit) && w.child(right, d, cands, inQ, visit)
}

// child walks b, a half of the box cands meet, cut in dimension d: an item
// meets b when it meets b's interval in d.
func (w *walker) child(b box, d int, cands []int32, inQ bool, visit visitFunc) bool {
	start := len(w.buf)
	x := b[d]
	for _, it := range cands {
		l := w.shapes[it][d]
		if len(l) == 1 {
			if !x.hi.less(l[0].lo) && !l[0].hi.less(x.lo) {
				w.buf = append(w.buf, it)
			}
			continue
		}
		if i := first(l, x.lo); i < len(l) && !x.hi.less(l[i].lo) {
			w.buf = append(w.buf, it)
		}
	}
	mine := w.buf[start:len(w.buf):len(w.buf)]
	ok := w.walk(b, mine, inQ, visit)
	w.buf = w.buf[:start]
	return ok
}

// balancedCut picks, from a sample of the candidates' boundaries inside b,
// the dimension and value that split the sample most evenly. It fails when
// no cut leaves either half with fewer of the sample.
func (w *walker) balancedCut(b *box, cands []int32) (int, u128, bool) {
	const sampleSize = 32
	step := max(1, len(cands)/sampleSize)
	bestDim, bestAt, bestCost := -1, u128{}, 0
	for d := range nDims {
		x := b[d]
		if x.lo == x.hi {
			continue
		}
		w.vals = w.vals[:0]
		n := 0
		for i := 0; i < len(cands); i += step {
			n++
			l := w.shapes[cands[i]][d]
			v := l[first(l, x.lo)]
			if x.lo.less(v.lo) {
				w.vals = append(w.vals, v.lo)
			} else if v.hi.less(x.hi) {
				w.vals = append(w.vals, v.hi.addOne())
			}
		}
		if len(w.vals) == 0 {
			continue
		}
		slices.SortFunc(w.vals, cmpU)
		at := w.vals[len(w.vals)/2]
		left, right := 0, 0
		for i := 0; i < len(cands); i += step {
			l := w.shapes[cands[i]][d]
			j := first(l, x.lo)
			if l[j].lo.less(at) {
				left++
			}
			if k := first(l, at); k < len(l) && !x.hi.less(l[k].lo) {
				right++
			}
		}
		cost := max(left, right)
		if cost < n && (bestDim < 0 || cost < bestCost) {
			bestDim, bestAt, bestCost = d, at, cost
		}
	}
	return bestDim, bestAt, bestDim >= 0
}

// all reports whether every item of l is marked.
func (sc *scratch) all(l []int32) bool {
	for _, it := range l {
		if sc.stamp[it] != sc.cur {
			return false
		}
	}
	return true
}

// next starts a new set of marks.
func (sc *scratch) next() {
	sc.cur++
	if sc.cur == 0 {
		clear(sc.stamp)
		sc.cur = 1
	}
}
