package analysis

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// effectCase is four trees: a base, the base with a change, the firewall
// as it is now, and now with the change re-applied.
type effectCase [4]firewall.Tree

// randomEffectCase draws a base and a change, a concurrent move of the
// firewall (sometimes none), and the change re-applied: mostly the same
// edit drawn again on the moved tree, sometimes another one, so that both
// verdicts come up. A quarter of the bases have rules that name groups.
func randomEffectCase(r *rand.Rand) effectCase {
	g := fwgen.NewAdversarial(r, false)
	base := g.Tree(3, 1+r.IntN(5))
	if r.IntN(4) == 0 {
		fwgen.AddGroups(r, &base, 2+r.IntN(3)) // rules that name groups
	}
	extra := g.Tree(1, 3)
	edit := r.Uint64()
	changed := mutate(rand.New(rand.NewPCG(edit, 1)), base, extra)
	cur := base
	if r.IntN(5) > 0 {
		cur = mutate(r, base, extra)
	}
	curT := mutate(rand.New(rand.NewPCG(edit, 1)), cur, extra)
	switch r.IntN(6) {
	case 0:
		curT = mutate(r, cur, extra)
	case 1:
		curT = cloneTree(cur)
		curT.Policies = changed.Policies
	}
	return effectCase{base, changed, cur, curT}
}

// refEffect is the plain reference: every cell of the four trees'
// boundaries decided by a linear scan on each tree, and the condition of
// SameEffect checked cell by cell. It returns nil flows when there are
// too many cells, and otherwise whether the effect holds and the flows
// that break it.
func refEffect(tc *effectCase, now time.Time) (cells int, same bool, breaking map[firewall.Flow]bool) {
	all := cloneTree(tc[0])
	for _, t := range tc[1:] {
		all.Policies = append(all.Policies, t.Policies...)
	}
	flows := refCells(&all, cellLimit)
	if flows == nil {
		return 0, false, nil
	}
	var orders [4][]firewall.PolicyTree
	for i := range tc {
		orders[i] = refOrder(&tc[i])
	}
	breaking = map[firewall.Flow]bool{}
	for _, f := range flows {
		var a [4]firewall.Action
		for i := range tc {
			a[i] = refDeciders(&tc[i].Groups, orders[i], tc[i].Firewall.DefaultAction, f, now)[0].action
		}
		if refBreaks(a) {
			breaking[f] = true
		}
	}
	return len(flows), len(breaking) == 0, breaking
}

// refBreaks reports whether the actions of one flow on the four trees
// break the condition: the change alters it at the base or now, and not
// from the same action to the same action.
func refBreaks(a [4]firewall.Action) bool {
	changed := a[0] != a[1] || a[2] != a[3]
	sameWay := a[0] == a[2] && a[1] == a[3]
	return changed && !sameWay
}

// refDecide decides f on each tree by the reference's linear scan.
func refDecide(tc *effectCase, f firewall.Flow, now time.Time) [4]firewall.Action {
	var a [4]firewall.Action
	for i := range tc {
		a[i] = refDeciders(&tc[i].Groups, refOrder(&tc[i]), tc[i].Firewall.DefaultAction, f, now)[0].action
	}
	return a
}

func effectModels(t *testing.T, tc *effectCase) ([4]*Model, bool) {
	t.Helper()
	var ms [4]*Model
	for i := range tc {
		if _, err := engine.Compile(tc[i]); err != nil {
			return ms, false
		}
		m, err := New(tc[i], fwgen.Now)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = m
	}
	return ms, true
}

// TestSameEffectMatchesOracle checks SameEffect against the brute force on
// random bases, changes and moves: the same verdict on every case, and,
// when the effect differs, an example the reference finds breaking too.
func TestSameEffectMatchesOracle(t *testing.T) {
	want := oracleCount(1000, 200, 200)
	r := rand.New(rand.NewPCG(19, 2026))
	checked, same, differ := 0, 0, 0
	for seed := 0; checked < want; seed++ {
		tc := randomEffectCase(r)
		ms, ok := effectModels(t, &tc)
		if !ok {
			continue
		}
		_, wantSame, breaking := refEffect(&tc, fwgen.Now)
		if breaking == nil {
			continue
		}
		got, err := SameEffect(ms[0], ms[1], ms[2], ms[3])
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if got.Same != wantSame {
			t.Fatalf("seed %d: SameEffect says %v, the reference %v (%d breaking cells)\nbase:\n%s\nchanged:\n%s\ncurrent:\n%s\ncurrent changed:\n%s",
				seed, got.Same, wantSame, len(breaking), dumpTree(&tc[0]), dumpTree(&tc[1]), dumpTree(&tc[2]), dumpTree(&tc[3]))
		}
		if !got.Same {
			differ++
			a := refDecide(&tc, got.Example, fwgen.Now)
			if !isPacket(got.Example) || !refBreaks(a) {
				t.Fatalf("seed %d: example %+v is decided %v by the reference, which keeps the effect", seed, got.Example, a)
			}
			d := [4]firewall.Decision{got.Base, got.BaseChanged, got.Current, got.CurrentChanged}
			for i := range a {
				if d[i].Action != a[i] {
					t.Fatalf("seed %d: example %+v: tree %d decides %s, the verdict says %s", seed, got.Example, i, a[i], d[i].Action)
				}
			}
		} else {
			same++
		}
		checked++
	}
	t.Logf("%d cases checked against the brute force: %d keep the effect, %d do not", checked, same, differ)
	if same < checked/10 || differ < checked/10 {
		t.Fatalf("%d same and %d different: the cases do not exercise both verdicts", same, differ)
	}
}

// TestSameEffectRefusesMixedInstants: the four trees must be judged at
// one instant.
func TestSameEffectRefusesMixedInstants(t *testing.T) {
	tr := fwgen.NewAdversarial(rand.New(rand.NewPCG(1, 1)), false).Tree(2, 3)
	a, err := New(tr, fwgen.Now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(tr, fwgen.Now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SameEffect(a, a, a, b); err == nil {
		t.Fatal("no error for trees judged at different instants")
	}
}

// TestSameEffectIdentical: a change that is the identity, or the same
// edit on an unmoved firewall, keeps its effect.
func TestSameEffectIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for i := range 50 {
		g := fwgen.NewAdversarial(r, false)
		base := g.Tree(3, 1+r.IntN(8))
		changed := mutate(r, base, g.Tree(1, 3))
		tc := effectCase{base, changed, base, changed}
		ms, ok := effectModels(t, &tc)
		if !ok {
			continue
		}
		got, err := SameEffect(ms[0], ms[1], ms[2], ms[3])
		if err != nil || !got.Same {
			t.Fatalf("case %d: the same change on the same tree: %+v, %v", i, got, err)
		}
	}
}

// FuzzSameEffect checks SameEffect on any draw: no panic, an example that
// breaks the condition when it says the effect differs, and no random
// flow that breaks it when it says the effect holds.
func FuzzSameEffect(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(19))
	f.Add(uint64(2026))
	f.Fuzz(func(t *testing.T, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 5))
		tc := randomEffectCase(r)
		var ems [4]*engine.Matcher
		for i := range tc {
			m, err := engine.Compile(tc[i])
			if err != nil {
				return
			}
			ems[i] = m
		}
		ms, _ := effectModels(t, &tc)
		got, err := SameEffect(ms[0], ms[1], ms[2], ms[3])
		if err != nil {
			t.Fatal(err)
		}
		decide := func(fl firewall.Flow) [4]firewall.Action {
			var a [4]firewall.Action
			for i, m := range ems {
				a[i] = m.Evaluate(fl, fwgen.Now, false).Action
			}
			return a
		}
		if !got.Same {
			if a := decide(got.Example); !isPacket(got.Example) || !refBreaks(a) {
				t.Fatalf("example %+v decided %v keeps the effect", got.Example, a)
			}
			return
		}
		all := cloneTree(tc[0])
		for _, tr := range tc[1:] {
			all.Policies = append(all.Policies, tr.Policies...)
		}
		flows := fwgen.NewFlows(r, &all, false)
		for range 500 {
			fl := flows.Flow()
			if a := decide(fl); isPacket(fl) && refBreaks(a) {
				t.Fatalf("SameEffect says the effect holds, but %+v is decided %v", fl, a)
			}
		}
	})
}
