package service_test

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/service"
)

// historyOf makes a random history of f's firewall: whole trees put,
// small mutations of them, and single rule changes through the CRUD use
// cases. It returns the revisions made, each with the tree read live right
// after it.
func historyOf(t *testing.T, f *fixture, r *rand.Rand, steps int) map[int64]firewall.Tree {
	t.Helper()
	trees := map[int64]firewall.Tree{}
	record := func() {
		cur, err := f.svc.GetTree(f.ctx, f.fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		trees[cur.Firewall.Revision] = cur
	}
	record()
	var a firewall.Tree
	for range steps {
		cur, err := f.svc.GetTree(f.ctx, f.fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch k := r.IntN(4); {
		case k == 0 || len(cur.Policies) == 0:
			a = randomTree(r)
			if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, a, false); err != nil {
				t.Fatal(err)
			}
		case k == 1:
			if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, mutate(r, cur, randomTree(r)), false); err != nil {
				t.Fatal(err)
			}
		default:
			p := cur.Policies[r.IntN(len(cur.Policies))]
			if len(p.Rules) == 0 {
				continue
			}
			rule := p.Rules[r.IntN(len(p.Rules))]
			switch r.IntN(3) {
			case 0:
				_, err = f.svc.MoveRule(f.ctx, f.fw.ID, p.Policy.ID, rule.ID, nil, service.MoveTarget{Position: 1 + r.IntN(len(p.Rules))})
			case 1:
				action := firewall.Deny
				if rule.Action == firewall.Deny {
					action = firewall.Allow
				}
				_, err = f.svc.UpdateRule(f.ctx, f.fw.ID, p.Policy.ID, rule.ID, nil, firewall.RulePatch{Action: firewall.Some(action)})
			default:
				err = f.svc.DeleteRule(f.ctx, f.fw.ID, p.Policy.ID, rule.ID, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		record()
	}
	return trees
}

// sampleFlows draws flows aimed at the rules of both trees.
func sampleFlows(r *rand.Rand, a, b *firewall.Tree, n int) []firewall.Flow {
	fa, fb := fwgen.NewFlows(r, a, false), fwgen.NewFlows(r, b, false)
	flows := make([]firewall.Flow, 0, n)
	for len(flows) < n {
		fl := fa.Flow()
		if len(flows)%2 == 1 {
			fl = fb.Flow()
		}
		if consistent(fl) {
			flows = append(flows, fl)
		}
	}
	return flows
}

// Reading revision n gives the tree recorded live when n was current.
func TestTreeAtEveryRevision(t *testing.T) {
	f := newFixture(t)
	trees := historyOf(t, f, rand.New(rand.NewPCG(1, 19)), 25)
	for rev, want := range trees {
		got, err := f.svc.TreeAt(f.ctx, f.fw.ID, rev)
		if err != nil {
			t.Fatalf("TreeAt(%d): %v", rev, err)
		}
		if d := service.DiffTrees(want, got); !d.Empty() || got.Firewall.ETag != want.Firewall.ETag {
			t.Fatalf("revision %d differs from the tree recorded then: %+v", rev, d)
		}
		for i := range want.Policies {
			for j, r := range want.Policies[i].Rules {
				g := got.Policies[i].Rules[j]
				if g.ID != r.ID || g.Position != r.Position || g.ETag != r.ETag {
					t.Fatalf("revision %d, rule %d of policy %d: got %s at %d, want %s at %d", rev, j, i, g.ID, g.Position, r.ID, r.Position)
				}
			}
		}
	}
}

// Rolling back to revision n makes a new revision whose tree diffs empty
// against n's and decides sampled flows as n's did.
func TestRollback(t *testing.T) {
	for seed := range uint64(3) {
		t.Run("", func(t *testing.T) {
			f := newFixture(t)
			r := rand.New(rand.NewPCG(seed, 23))
			trees := historyOf(t, f, r, 15)
			for range 6 {
				cur, err := f.svc.GetTree(f.ctx, f.fw.ID)
				if err != nil {
					t.Fatal(err)
				}
				revs := slices.Sorted(maps.Keys(trees))
				n := revs[r.IntN(len(revs))]
				res, err := f.svc.Rollback(f.ctx, f.fw.ID, nil, n)
				if err != nil {
					t.Fatalf("Rollback(%d): %v", n, err)
				}
				after, err := f.svc.GetTree(f.ctx, f.fw.ID)
				if err != nil {
					t.Fatal(err)
				}
				want := trees[n]
				if d := service.DiffTrees(want, after); !d.Empty() {
					t.Fatalf("after rolling back to %d the tree differs from it: %+v", n, d)
				}
				if res.Changed != (after.Firewall.Revision > cur.Firewall.Revision) {
					t.Fatalf("Changed = %v, revision %d -> %d", res.Changed, cur.Firewall.Revision, after.Firewall.Revision)
				}
				flows := sampleFlows(r, &want, &cur, 500)
				now := f.clock.Now()
				wd, ad := decisions(t, want, flows, now), decisions(t, after, flows, now)
				for i := range flows {
					if wd[i].Action != ad[i].Action || wd[i].RuleID != ad[i].RuleID || wd[i].PolicyID != ad[i].PolicyID {
						t.Fatalf("flow %+v: revision %d decided %+v, the rollback %+v", flows[i], n, wd[i], ad[i])
					}
				}
				trees[after.Firewall.Revision] = after
			}
			page, err := f.svc.ListRevisions(f.ctx, f.fw.ID, firewall.Query{PageSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			if rec := page.Items[0]; rec.Actor != "alice" || rec.RequestID != "req-1" {
				t.Fatalf("newest revision record %+v, want alice's req-1", rec)
			}
		})
	}
}

// Every sampled flow whose decision differs between two revisions falls in
// a region the revision diff reports: the pair of deciders that region
// names.
func TestRevisionDiffCoversChangedFlows(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(5, 29))
	trees := historyOf(t, f, r, 15)
	cur := f.revision()
	revs := slices.Sorted(maps.Keys(trees))
	for range 8 {
		n, m := revs[r.IntN(len(revs))], revs[r.IntN(len(revs))]
		d, err := f.svc.DiffRevisions(f.ctx, f.fw.ID, n, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		older, newer := trees[m], trees[n]
		if n == m && !(d.Structural.Empty() && d.Semantic.NoOp) {
			t.Fatalf("a revision diffs against itself: %+v", d)
		}
		type pair struct{ o, n verdict }
		regions := map[pair]bool{}
		for _, rg := range d.Semantic.Regions {
			regions[pair{verdictOf(rg.Old), verdictOf(rg.New)}] = true
		}
		flows := sampleFlows(r, &older, &newer, 1000)
		now := f.clock.Now()
		od, nd := decisions(t, older, flows, now), decisions(t, newer, flows, now)
		for i := range flows {
			if od[i].Action != nd[i].Action && !regions[pair{verdictOf(od[i]), verdictOf(nd[i])}] {
				t.Fatalf("%d against %d: flow %+v changes %+v -> %+v outside every reported region", n, m, flows[i], od[i], nd[i])
			}
		}
	}
	if _, err := f.svc.DiffRevisions(f.ctx, f.fw.ID, cur, cur+1, 0); firewall.CodeOf(err) != firewall.CodeNotFound {
		t.Fatalf("against a revision not made yet: %v, want not found", err)
	}
}
