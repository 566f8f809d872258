package analysis

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Region is a set of flows whose decision changes from one tree to the
// other: the flows decided by Old's rule or default in the old tree and by
// New's in the new one, with different actions. Example is one of them.
type Region struct {
	Example firewall.Flow
	Old     firewall.Decision
	New     firewall.Decision
}

// Comparison lists the regions whose decision changes, sorted by the old
// tree's evaluation order and then the new one's, at most the cap asked
// for; Total counts them all.
type Comparison struct {
	OldRevision, NewRevision int64
	Regions                  []Region
	Total                    int
}

// DefaultMaxRegions is the number of regions Compare lists by default.
const DefaultMaxRegions = 100

// Compare gives the regions of the header space whose action differs
// between old and new, both judged at old's instant. It is exact. Only
// flows some differing item matches can change: the items the two trees
// share before the first difference decide the same flows in both, and
// flows no differing item matches fall to the same shared items after.
// So each class is walked only within the match sets of the items that
// differ, first with old's items, then each piece with new's.
func Compare(old, newer *Model, maxRegions int) (Comparison, error) {
	if maxRegions <= 0 {
		maxRegions = DefaultMaxRegions
	}
	if !old.now.Equal(newer.now) {
		return Comparison{}, fmt.Errorf("analysis: compare needs both trees judged at the same instant")
	}
	out := Comparison{OldRevision: old.Revision(), NewRevision: newer.Revision()}
	type pair struct{ a, b int32 }
	type found struct {
		c class
		p point
	}
	regions := map[pair]found{}
	var bufA, bufB []int32
	scA, scB := newScratch(len(old.items)), newScratch(len(newer.items))
	for c := range nClasses {
		qs := differing(old, newer, c)
		if len(qs) == 0 {
			continue
		}
		xa, xb := old.index(c), newer.index(c)
		wa, wb := old.walker(c), newer.walker(c)
		for _, q := range qs {
			bufA = xa.candidates(scA, q, wa.shapes, 0, int32(len(old.items)), bufA)
			bufB = xb.candidates(scB, q, wb.shapes, 0, int32(len(newer.items)), bufB)
			wa.regionWalk(q, bufA, func(b box, ca []int32) bool {
				a := ca[0]
				wb.walkFrom(b, bufB, func(b2 box, cb []int32) bool {
					if old.items[a].action == newer.items[cb[0]].action {
						return true
					}
					k := pair{a, cb[0]}
					if _, ok := regions[k]; !ok {
						regions[k] = found{c, sample(&b2)}
					}
					return true
				})
				return true
			})
		}
	}
	keys := make([]pair, 0, len(regions))
	for k := range regions {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y pair) int { return cmp.Or(cmp.Compare(x.a, y.a), cmp.Compare(x.b, y.b)) })
	out.Total = len(keys)
	for _, k := range keys[:min(len(keys), maxRegions)] {
		f := regions[k]
		flow := f.c.flow(f.p)
		o, err := old.confirm(flow, int(k.a))
		if err != nil {
			return Comparison{}, err
		}
		n, err := newer.confirm(flow, int(k.b))
		if err != nil {
			return Comparison{}, err
		}
		out.Regions = append(out.Regions, Region{Example: flow, Old: o.Decision, New: n.Decision})
	}
	return out, nil
}

// sameItem reports whether two items decide the same flows the same way
// in class c, with the same identity.
func sameItem(a, b *item, c class) bool {
	if a.kind != b.kind || a.action != b.action || a.policyID != b.policyID {
		return false
	}
	if a.kind == kindRule && a.rule.ID != b.rule.ID {
		return false
	}
	return sameShape(a.shapes[c], b.shapes[c])
}

func sameShape(a, b *shape) bool {
	if a == nil || b == nil {
		return a == b
	}
	for d := range nDims {
		if !slices.Equal(a[d], b[d]) {
			return false
		}
	}
	return true
}
