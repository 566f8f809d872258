package service_test

import (
	"math/rand/v2"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/service"
)

// randomOps draws one operation on tree: an action flipped, a rule deleted
// or moved.
func randomOps(r *rand.Rand, tree firewall.Tree) []firewall.Operation {
	for {
		p := tree.Policies[r.IntN(len(tree.Policies))]
		if len(p.Rules) < 2 {
			continue
		}
		rule := p.Rules[r.IntN(len(p.Rules))]
		op := firewall.Operation{PolicyID: p.Policy.ID, RuleID: rule.ID}
		switch r.IntN(3) {
		case 0:
			next := firewall.Allow
			if rule.Action == firewall.Allow {
				next = firewall.Deny
			}
			op.Op, op.RulePatch = firewall.OpPatchRule, &firewall.RulePatch{Action: firewall.Some(next)}
		case 1:
			op.Op = firewall.OpDeleteRule
		default:
			op.Op, op.Position = firewall.OpMoveRule, 1+r.IntN(len(p.Rules))
		}
		return []firewall.Operation{op}
	}
}

// A change request applied after the firewall moved must do to the
// current tree what it did to its base, judged flow by flow by the engine
// on sampled flows: a flow the change changed at the base is decided by
// the result as the change decided it (and was decided now as at the
// base), and every other flow keeps its current decision. Requests that
// cannot keep that promise must go stale instead.
func TestChangeRequestApplyKeepsReviewedEffect(t *testing.T) {
	applied, stale := 0, 0
	for seed := range uint64(16) {
		t.Run("", func(t *testing.T) {
			f := newFixture(t)
			r := rand.New(rand.NewPCG(seed, 11))
			a, b := randomTree(r), randomTree(r)
			if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, a, false); err != nil {
				t.Fatal(err)
			}
			base, err := f.svc.GetTree(f.ctx, f.fw.ID)
			if err != nil {
				t.Fatal(err)
			}
			in := firewall.ChangeRequest{Title: "random", BaseRevision: base.Firewall.Revision}
			if seed%2 == 0 {
				cand := mutate(r, base, b)
				in.Candidate = &cand
			} else {
				in.Operations = randomOps(r, base)
			}
			cr, _, err := f.svc.CreateChangeRequest(f.ctx, f.fw.ID, in, service.Idempotency{})
			if err != nil {
				t.Fatal(err)
			}
			bob := service.WithCaller(f.ctx, service.Caller{Subject: "bob", Roles: []string{"approver"}})
			if _, err := f.svc.ApproveChangeRequest(bob, f.fw.ID, cr.ID, "", nil); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, mutate(r, base, b), false); err != nil {
				t.Fatal(err)
			}
			cur, err := f.svc.GetTree(f.ctx, f.fw.ID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.ApplyChangeRequest(f.ctx, f.fw.ID, cr.ID, "", nil)
			if firewall.CodeOf(err) == firewall.CodeConflict {
				stale++
				got, gerr := f.svc.GetChangeRequest(f.ctx, f.fw.ID, cr.ID)
				if gerr != nil || got.State != firewall.ChangeStale || got.StaleReason == "" {
					t.Fatalf("refused with %v, but the request is %+v (%v)", err, got.State, gerr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			applied++
			final, err := f.svc.GetTree(f.ctx, f.fw.ID)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := f.svc.GetChangeRequest(f.ctx, f.fw.ID, cr.ID)
			if err != nil {
				t.Fatal(err)
			}
			var baseT firewall.Tree
			if stored.Candidate != nil {
				baseT = *stored.Candidate
			} else if baseT, err = firewall.ApplyOperations(base, stored.Operations); err != nil {
				t.Fatal(err)
			}
			var flows []firewall.Flow
			gens := []*fwgen.Flows{fwgen.NewFlows(r, &base, false), fwgen.NewFlows(r, &cur, false), fwgen.NewFlows(r, &baseT, false)}
			for len(flows) < 3000 {
				if fl := gens[len(flows)%3].Flow(); consistent(fl) {
					flows = append(flows, fl)
				}
			}
			now := f.clock.Now()
			bd, btd := decisions(t, base, flows, now), decisions(t, baseT, flows, now)
			cd, fd := decisions(t, cur, flows, now), decisions(t, final, flows, now)
			for i, fl := range flows {
				b, bt, c, fin := bd[i].Action, btd[i].Action, cd[i].Action, fd[i].Action
				if b != bt && (c != b || fin != bt) {
					t.Fatalf("flow %+v: the change took it %s -> %s at the base; now %s, applied %s", fl, b, bt, c, fin)
				}
				if b == bt && fin != c {
					t.Fatalf("flow %+v: the change left it alone at the base, but applying took it %s -> %s", fl, c, fin)
				}
			}
		})
	}
	t.Logf("%d applied after the firewall moved, %d went stale", applied, stale)
	if applied == 0 || stale == 0 {
		t.Fatalf("%d applied and %d stale: the seeds do not exercise both outcomes", applied, stale)
	}
}
