package analysis

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// cloneTree copies a tree deeply enough to edit its policies and rules.
func cloneTree(t firewall.Tree) firewall.Tree {
	out := t
	out.Policies = slices.Clone(t.Policies)
	for i := range out.Policies {
		out.Policies[i].Rules = slices.Clone(out.Policies[i].Rules)
	}
	return out
}

// mutate makes a few random edits, each of a kind a change request makes.
func mutate(r *rand.Rand, t firewall.Tree, extra firewall.Tree) firewall.Tree {
	t = cloneTree(t)
	for range 1 + r.IntN(2) {
		pi := r.IntN(len(t.Policies))
		pt := &t.Policies[pi]
		switch k := r.IntN(8); {
		case k < 2 && len(pt.Rules) > 0:
			ri := r.IntN(len(pt.Rules))
			pt.Rules[ri].Action = []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject}[r.IntN(3)]
		case k == 2 && len(pt.Rules) > 0:
			ri := r.IntN(len(pt.Rules))
			pt.Rules = slices.Delete(pt.Rules, ri, ri+1)
		case k == 3:
			for _, ept := range extra.Policies {
				if len(ept.Rules) > 0 {
					nr := ept.Rules[r.IntN(len(ept.Rules))]
					nr.Position = r.IntN(len(pt.Rules) + 2)
					pt.Rules = append(pt.Rules, nr)
					break
				}
			}
		case k == 4:
			pt.Policy.DefaultAction = []firewall.Action{firewall.Allow, firewall.Deny, firewall.Next}[r.IntN(3)]
		case k == 5:
			pt.Policy.Enabled = !pt.Policy.Enabled
		case k == 6 && len(pt.Rules) > 0:
			ri := r.IntN(len(pt.Rules))
			pt.Rules[ri].Position = r.IntN(len(pt.Rules) + 2)
		default:
			if r.IntN(3) == 0 {
				t.Firewall.DefaultAction = []firewall.Action{firewall.Allow, firewall.Deny}[r.IntN(2)]
			}
		}
	}
	t.Firewall.Revision++
	return t
}

func TestCompareMatchesOracle(t *testing.T) {
	n := oracleCount(1000, 150, 150)
	r := rand.New(rand.NewPCG(3, 15))
	checked := 0
	for seed := 0; checked < n; seed++ {
		g := fwgen.NewAdversarial(r, false)
		a := g.Tree(3, 1+r.IntN(5))
		b := mutate(r, a, g.Tree(1, 3))
		ea, err1 := engine.Compile(a)
		eb, err2 := engine.Compile(b)
		if err1 != nil || err2 != nil {
			continue
		}
		both := cloneTree(a)
		both.Policies = append(both.Policies, b.Policies...)
		cells := refCells(&both, cellLimit)
		if cells == nil {
			continue
		}
		ma, _ := New(a, fwgen.Now)
		mb, _ := New(b, fwgen.Now)
		cmp, err := Compare(ma, mb, 1000)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		got := map[string]bool{}
		for _, reg := range cmp.Regions {
			got[regionKey(reg.Old, reg.New)] = true
			da, db := ea.Evaluate(reg.Example, fwgen.Now, false), eb.Evaluate(reg.Example, fwgen.Now, false)
			if !sameDecision(da, reg.Old) || !sameDecision(db, reg.New) || da.Action == db.Action {
				t.Fatalf("seed %d: region example %+v: engine %+v → %+v, region says %+v → %+v", seed, reg.Example, da, db, reg.Old, reg.New)
			}
		}
		if cmp.Total != len(cmp.Regions) {
			t.Fatalf("seed %d: %d regions listed of %d", seed, len(cmp.Regions), cmp.Total)
		}
		want := map[string]bool{}
		for _, f := range cells {
			da, db := ea.Evaluate(f, fwgen.Now, false), eb.Evaluate(f, fwgen.Now, false)
			if da.Action != db.Action {
				want[regionKey(da, db)] = true
				if !got[regionKey(da, db)] {
					t.Fatalf("seed %d: %+v changes %+v → %+v, in no region\nold:\n%s\nnew:\n%s", seed, f, da, db, dumpTree(&a), dumpTree(&b))
				}
			}
		}
		if !mapsEqual(got, want) {
			t.Fatalf("seed %d: regions %v, oracle %v", seed, keys(got), keys(want))
		}
		checked++
	}
	t.Logf("%d compares checked against the oracle", checked)
}

func regionKey(a, b firewall.Decision) string {
	return fmt.Sprintf("%s/%s/%s→%s/%s/%s", a.DecidedBy, a.PolicyID, a.RuleID, b.DecidedBy, b.PolicyID, b.RuleID)
}

// TestCompareRealistic cross-checks a one-rule change of a realistic
// firewall with random flows, both ways.
func TestCompareRealistic(t *testing.T) {
	a := fwgen.Realistic(5, 3000, false)
	r := rand.New(rand.NewPCG(5, 5))
	for i := range 5 {
		b := cloneTree(a)
		pt := &b.Policies[1+r.IntN(2)*2]
		ri := r.IntN(len(pt.Rules))
		switch i % 3 {
		case 0:
			pt.Rules[ri].Action = map[firewall.Action]firewall.Action{firewall.Allow: firewall.Deny, firewall.Deny: firewall.Allow, firewall.Reject: firewall.Allow}[pt.Rules[ri].Action]
		case 1:
			pt.Rules = slices.Delete(pt.Rules, ri, ri+1)
		default:
			pt.Rules[ri].Sources = nil
		}
		b.Firewall.Revision++
		ma, _ := New(a, fwgen.Now)
		mb, _ := New(b, fwgen.Now)
		cmp, err := Compare(ma, mb, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		ea, _ := engine.Compile(a)
		eb, _ := engine.Compile(b)
		got := map[string]bool{}
		for _, reg := range cmp.Regions {
			got[regionKey(reg.Old, reg.New)] = true
			da, db := ea.Evaluate(reg.Example, fwgen.Now, false), eb.Evaluate(reg.Example, fwgen.Now, false)
			if !sameDecision(da, reg.Old) || !sameDecision(db, reg.New) || da.Action == db.Action {
				t.Fatalf("edit %d: region example %+v does not show the change", i, reg.Example)
			}
		}
		flows := fwgen.RealisticFlows(uint64(i), &a, 20000)
		differ := 0
		for _, f := range flows {
			da, db := ea.Evaluate(f, fwgen.Now, false), eb.Evaluate(f, fwgen.Now, false)
			if da.Action != db.Action {
				differ++
				if !got[regionKey(da, db)] {
					t.Fatalf("edit %d: %+v changes %+v → %+v, in no region", i, f, da, db)
				}
			}
		}
		t.Logf("edit %d: %d regions, %d of %d random flows change", i, cmp.Total, differ, len(flows))
	}
}
