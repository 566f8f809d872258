package service_test

import (
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

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
// cannot keep that promise must go stale instead, and a request that goes
// stale for its semantic diff must name a flow the engine shows breaking
// the promise, so that no request is refused without cause.
func TestChangeRequestApplyKeepsReviewedEffect(t *testing.T) {
	applied, stale, witnessed := 0, 0, 0
	for seed := range uint64(32) {
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
				if checkStaleWitness(t, got, base, cur, f.clock.Now()) {
					witnessed++
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
	t.Logf("%d applied after the firewall moved, %d went stale (%d for their semantic diff, each with a witness flow)", applied, stale, witnessed)
	if applied == 0 || stale == 0 || witnessed == 0 {
		t.Fatalf("%d applied and %d stale: the seeds do not exercise both outcomes", applied, stale)
	}
}

// staleFlow reads the witness of a stale reason: "flows such as <flow>
// went from <action> by ... to <action> by ... at the base, and would go
// from <action> by ... to <action> by ... now".
var staleFlow = regexp.MustCompile(`flows such as (\S+) (\S+) -> (\S+) went from (\w+) by .* to (\w+) by .* at the base, and would go from (\w+) by .* to (\w+) by .* now`)

// checkStaleWitness checks, when cr went stale for its semantic diff, that
// the flow its reason names is decided as the reason says on the base and
// the base changed (and, for operations, on the current tree with the
// change), and that those decisions break the reviewed effect. It reports
// whether the reason was of that kind.
func checkStaleWitness(t *testing.T, cr firewall.ChangeRequest, base, cur firewall.Tree, now time.Time) bool {
	t.Helper()
	m := staleFlow.FindStringSubmatch(cr.StaleReason)
	if m == nil {
		if strings.Contains(cr.StaleReason, "semantic diff") {
			t.Fatalf("stale reason names no flow: %s", cr.StaleReason)
		}
		return false
	}
	fl := firewall.Flow{Protocol: firewall.Protocol(m[1])}
	var err error
	if fl.Source, fl.SourcePort, err = hostPort(m[2], fl.Protocol.HasPorts()); err != nil {
		t.Fatal(err)
	}
	if fl.Destination, fl.DestinationPort, err = hostPort(m[3], fl.Protocol.HasPorts()); err != nil {
		t.Fatal(err)
	}
	var baseT firewall.Tree
	if cr.Candidate != nil {
		baseT = *cr.Candidate
	} else if baseT, err = firewall.ApplyOperations(base, cr.Operations); err != nil {
		t.Fatal(err)
	}
	trees := []firewall.Tree{base, baseT, cur}
	if cr.Operations != nil {
		curT, err := firewall.ApplyOperations(cur, cr.Operations)
		if err != nil {
			t.Fatal(err)
		}
		trees = append(trees, curT)
	}
	said := m[4:]
	for i, tr := range trees {
		if got := decisions(t, tr, []firewall.Flow{fl}, now)[0].Action; string(got) != said[i] {
			t.Fatalf("stale reason %q: tree %d decides %+v as %s", cr.StaleReason, i, fl, got)
		}
	}
	changed := said[0] != said[1] || said[2] != said[3]
	if !changed || (said[0] == said[2] && said[1] == said[3]) {
		t.Fatalf("stale reason %q names a flow that keeps the reviewed effect", cr.StaleReason)
	}
	return true
}

// hostPort parses "addr:port" (or "addr" without ports), the address
// possibly IPv6 and so full of colons.
func hostPort(s string, ports bool) (netip.Addr, uint16, error) {
	if !ports {
		a, err := netip.ParseAddr(s)
		return a, 0, err
	}
	i := strings.LastIndex(s, ":")
	a, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.Addr{}, 0, err
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	return a, uint16(p), err
}
