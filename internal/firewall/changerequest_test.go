package firewall

import (
	"strings"
	"testing"
)

func ruleOrder(t *Tree, policy int) string {
	var ids []string
	for i, r := range t.Policies[policy].Rules {
		if r.Position != i+1 {
			return "bad positions"
		}
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ",")
}

func TestApplyOperations(t *testing.T) {
	newRule := func(id string, pos int) *Rule {
		r := NewRule()
		r.ID, r.Action, r.Position = id, Deny, pos
		return r2p(r)
	}
	newPol := func(id, name string, prio int) *Policy {
		p := NewPolicy()
		p.ID, p.Name, p.Priority = id, name, prio
		return &p
	}
	tests := []struct {
		name  string
		ops   []Operation
		order string // rule ids of the first policy, in order
		where string // the problem's location, for a failure
	}{
		{"create at the end", []Operation{{Op: OpCreateRule, PolicyID: "p1", Rule: newRule("n", 0)}}, "r1,r2,n", ""},
		{"create first", []Operation{{Op: OpCreateRule, PolicyName: "Baseline", Rule: newRule("n", 1)}}, "n,r1,r2", ""},
		{"create past the end", []Operation{{Op: OpCreateRule, PolicyID: "p1", Rule: newRule("n", 4)}}, "", "operations[0].rule.position"},
		{"move to 1", []Operation{{Op: OpMoveRule, PolicyID: "p1", RuleID: "r2", Position: 1}}, "r2,r1", ""},
		{"move after", []Operation{{Op: OpMoveRule, PolicyID: "p1", RuleID: "r1", After: "r2"}}, "r2,r1", ""},
		{"move before", []Operation{{Op: OpMoveRule, PolicyID: "p1", RuleID: "r2", Before: "r1"}}, "r2,r1", ""},
		{"move relative to itself", []Operation{{Op: OpMoveRule, PolicyID: "p1", RuleID: "r2", Before: "r2"}}, "", "operations[0].before"},
		{"delete by name", []Operation{{Op: OpDeleteRule, PolicyID: "p1", RuleName: "WEB"}}, "r2", ""},
		{"delete missing", []Operation{{Op: OpDeleteRule, PolicyID: "p1", RuleID: "zz"}}, "", "operations[0].rule_id"},
		{"patch renames onto another", []Operation{{Op: OpPatchRule, PolicyID: "p1", RuleID: "r2",
			RulePatch: &RulePatch{Name: Some("web")}}}, "", "operations[0].rule_patch.name"},
		{"patch bad cidr", []Operation{{Op: OpPatchRule, PolicyID: "p1", RuleID: "r2",
			RulePatch: &RulePatch{Sources: Some([]string{"10.0.0.1/8"})}}}, "", "operations[0].rule_patch.sources[0]"},
		{"policy then its rule", []Operation{{Op: OpCreatePolicy, Policy: newPol("p2", "late", 5)},
			{Op: OpCreateRule, PolicyName: "late", Rule: newRule("n", 0)}}, "r1,r2", ""},
		{"policy priority taken", []Operation{{Op: OpCreatePolicy, Policy: newPol("p2", "late", 100)}}, "", "operations[0].policy.priority"},
		{"delete policy with rules", []Operation{{Op: OpDeletePolicy, PolicyID: "p1"}}, "", "operations[0].cascade"},
		{"second operation fails", []Operation{{Op: OpDeleteRule, PolicyID: "p1", RuleID: "r1"},
			{Op: OpDeleteRule, PolicyID: "p1", RuleID: "r1"}}, "", "operations[1].rule_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := fuzzTree()
			out, err := ApplyOperations(base, tc.ops)
			if tc.where != "" {
				var ps Problems
				ps.AddFrom("", err)
				if len(ps) == 0 || ps[0].Location != tc.where {
					t.Fatalf("error %v, want a problem at %s", err, tc.where)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ruleOrder(&out, 0); got != tc.order {
				t.Fatalf("rules %s, want %s", got, tc.order)
			}
			if got := ruleOrder(&base, 0); got != "r1,r2" {
				t.Fatalf("the base changed to %s", got)
			}
		})
	}
}

func r2p(r Rule) *Rule { return &r }

func TestChangeRequestTransitions(t *testing.T) {
	all := ChangeStates()
	allowed := map[[2]ChangeState]bool{
		{ChangeOpen, ChangeApproved}: true, {ChangeOpen, ChangeRejected}: true, {ChangeOpen, ChangeCancelled}: true,
		{ChangeApproved, ChangeCancelled}: true, {ChangeApproved, ChangeApplied}: true, {ChangeApproved, ChangeStale}: true,
	}
	for _, from := range all {
		for _, to := range all {
			cr := ChangeRequest{State: from, StaleReason: "it moved"}
			err := cr.CanMove(to)
			if allowed[[2]ChangeState{from, to}] != (err == nil) {
				t.Errorf("%s -> %s: %v", from, to, err)
			}
			if err != nil && CodeOf(err) != CodeConflict {
				t.Errorf("%s -> %s: code %s", from, to, CodeOf(err))
			}
			if err != nil && from == ChangeStale && !strings.Contains(err.Error(), "it moved") {
				t.Errorf("refusing a stale request does not say why it went stale: %v", err)
			}
		}
	}
}

func TestChangeRequestValidate(t *testing.T) {
	ops := []Operation{{Op: OpDeleteRule, PolicyID: "p1", RuleID: "r1"}}
	tree := fuzzTree()
	tests := []struct {
		name  string
		cr    ChangeRequest
		where string
	}{
		{"ok", ChangeRequest{Title: "t", BaseRevision: 1, Operations: ops}, ""},
		{"no title", ChangeRequest{BaseRevision: 1, Operations: ops}, "title"},
		{"no revision", ChangeRequest{Title: "t", Operations: ops}, "base_revision"},
		{"both", ChangeRequest{Title: "t", BaseRevision: 1, Operations: ops, Candidate: &tree}, "operations"},
		{"neither", ChangeRequest{Title: "t", BaseRevision: 1}, "operations"},
		{"no rule named", ChangeRequest{Title: "t", BaseRevision: 1, Operations: []Operation{{Op: OpDeleteRule, PolicyID: "p1"}}}, "operations[0].rule_id"},
		{"stray field", ChangeRequest{Title: "t", BaseRevision: 1, Operations: []Operation{{Op: OpCreatePolicy, Policy: &tree.Policies[0].Policy, Cascade: true}}}, "operations[0].cascade"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cr.Validate()
			var ps Problems
			ps.AddFrom("", err)
			switch {
			case tc.where == "" && err != nil:
				t.Fatal(err)
			case tc.where != "" && (len(ps) == 0 || ps[0].Location != tc.where):
				t.Fatalf("error %v, want a problem at %s", err, tc.where)
			}
		})
	}
}
