package analysis

import (
	"fmt"

	"github.com/fireflow/fireflow/internal/firewall"
)

// EffectCheck is the verdict of SameEffect. When Same is false, Example
// is a flow on which the two changes differ, with the decision each of
// the four trees makes on it (as the engine makes it).
type EffectCheck struct {
	Same    bool
	Example firewall.Flow
	// Base and BaseChanged decide Example before and after the change at
	// its base; Current and CurrentChanged, before and after it now.
	Base, BaseChanged, Current, CurrentChanged firewall.Decision
}

// SameEffect reports whether a change does the same to cur as it did to
// base, over the whole header space: baseT is base with the change, and
// curT is cur with it re-applied. The effect is the same when every flow
// whose action the change altered at the base is altered now too, from
// the same action to the same action, and every flow it left alone at the
// base it leaves alone now:
//
//	for every flow f: base(f) ≠ baseT(f) or cur(f) ≠ curT(f)
//	    ⇒ base(f) = cur(f) and baseT(f) = curT(f)
//
// comparing actions. All four models must be judged at one instant.
//
// Only flows that some item differing between base and baseT, or between
// cur and curT, matches can change (as Compare argues), so each class is
// walked within those items' match sets only: the partition of base,
// each piece again with baseT, then cur, then curT, until a piece breaks
// the condition.
func SameEffect(base, baseT, cur, curT *Model) (EffectCheck, error) {
	ms := [4]*Model{base, baseT, cur, curT}
	for _, m := range ms[1:] {
		if !m.now.Equal(base.now) {
			return EffectCheck{}, fmt.Errorf("analysis: an effect check needs the four trees judged at the same instant")
		}
	}
	var sc [4]*scratch
	for i, m := range ms {
		sc[i] = newScratch(len(m.items))
	}
	var bufs [4][]int32
	for c := range nClasses {
		qs := append(differing(base, baseT, c), differing(cur, curT, c)...)
		if len(qs) == 0 {
			continue
		}
		var ws [4]*walker
		for i, m := range ms {
			ws[i] = m.walker(c)
		}
		for _, q := range qs {
			for i, m := range ms {
				bufs[i] = m.index(c).candidates(sc[i], q, ws[i].shapes, 0, int32(len(m.items)), bufs[i])
			}
			var bad box
			found := false
			ws[0].regionWalk(q, bufs[0], func(b0 box, k0 []int32) bool {
				a0 := base.items[k0[0]].action
				return ws[1].walkFrom(b0, bufs[1], func(b1 box, k1 []int32) bool {
					a1 := baseT.items[k1[0]].action
					return ws[2].walkFrom(b1, bufs[2], func(b2 box, k2 []int32) bool {
						a2 := cur.items[k2[0]].action
						return ws[3].walkFrom(b2, bufs[3], func(b3 box, k3 []int32) bool {
							a3 := curT.items[k3[0]].action
							if (a0 != a1 || a2 != a3) && (a0 != a2 || a1 != a3) {
								bad, found = b3, true
								return false
							}
							return true
						})
					})
				})
			})
			if found {
				return witness(ms, c.flow(sample(&bad)))
			}
		}
	}
	return EffectCheck{Same: true}, nil
}

// differing returns, in class c, the match sets of the items of a and b
// that are not shared: the items between the longest common prefix and
// the longest common suffix of their evaluation orders. A flow none of
// them matches is decided by the same shared item in both.
func differing(a, b *Model, c class) []*shape {
	seqA, seqB := a.cands[c], b.cands[c]
	pre := 0
	for pre < len(seqA) && pre < len(seqB) && sameItem(&a.items[seqA[pre]], &b.items[seqB[pre]], c) {
		pre++
	}
	suf := 0
	for suf < len(seqA)-pre && suf < len(seqB)-pre &&
		sameItem(&a.items[seqA[len(seqA)-1-suf]], &b.items[seqB[len(seqB)-1-suf]], c) {
		suf++
	}
	var qs []*shape
	for _, it := range seqA[pre : len(seqA)-suf] {
		qs = append(qs, a.items[it].shapes[c])
	}
	for _, it := range seqB[pre : len(seqB)-suf] {
		qs = append(qs, b.items[it].shapes[c])
	}
	return qs
}

// witness has the engine decide f on the four trees, and checks that it
// breaks the condition, so that no example can disagree with evaluation.
func witness(ms [4]*Model, f firewall.Flow) (EffectCheck, error) {
	var d [4]firewall.Decision
	for i, m := range ms {
		d[i] = m.matcher.Evaluate(f, m.now, false)
	}
	if (d[0].Action == d[1].Action && d[2].Action == d[3].Action) || (d[0].Action == d[2].Action && d[1].Action == d[3].Action) {
		return EffectCheck{}, fmt.Errorf("analysis: the engine decides %+v as %s, %s, %s, %s, which keeps the effect the analysis says it breaks",
			f, d[0].Action, d[1].Action, d[2].Action, d[3].Action)
	}
	return EffectCheck{Example: f, Base: d[0], BaseChanged: d[1], Current: d[2], CurrentChanged: d[3]}, nil
}
