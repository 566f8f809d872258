package analysis

// walker visits the first-match partition of a box of one class: it cuts
// the box at the boundaries of the first item that meets it until that
// item covers each piece, keeping with each piece the items that may still
// meet it. Cutting at the boundary of the first matching item (rather than
// at fixed points) keeps the pieces few: each is cut by the items that
// decide inside it, not by every item of the firewall.
type walker struct {
	shapes []*shape // by item, for the walker's class; nil: the item never matches
	q      *shape   // when set, only the part of the box inside q is visited
	buf    []int32  // stack of candidate lists, one a level
}

// visitFunc is called with each piece of the partition and the candidates
// from its decider on: cands[0] decides every point of b, cands[1:] holds
// (at least) every later item that meets b. It returns false to stop the
// walk.
type visitFunc func(b *box, cands []int32) bool

// walk visits the partition of b by cands (items in evaluation order,
// including at least every item that meets b). It returns false when visit
// stopped it. The last item must cover the class (a firewall default).
func (w *walker) walk(b box, cands []int32, inQ bool, visit visitFunc) bool {
	if !inQ && w.q != nil {
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
	for k, it := range cands {
		s := w.shapes[it]
		if s == nil {
			continue
		}
		rel, d, at := s.relate(&b)
		switch rel {
		case disjoint:
			continue
		case covers:
			return visit(&b, cands[k:])
		}
		return w.split(b, d, at, cands[k:], inQ, visit)
	}
	return true
}

// split cuts b in two at value at of dimension d and walks both halves.
func (w *walker) split(b box, d int, at u128, cands []int32, inQ bool, visit visitFunc) bool {
	left, right := b, b
	left[d].hi = at.subOne()
	right[d].lo = at
	return w.child(left, cands, inQ, visit) && w.child(right, cands, inQ, visit)
}

// child walks b with the candidates that meet it.
func (w *walker) child(b box, cands []int32, inQ bool, visit visitFunc) bool {
	start := len(w.buf)
	for _, it := range cands {
		if s := w.shapes[it]; s != nil && s.meets(&b) {
			w.buf = append(w.buf, it)
		}
	}
	mine := w.buf[start:len(w.buf):len(w.buf)]
	ok := w.walk(b, mine, inQ, visit)
	w.buf = w.buf[:start]
	return ok
}
