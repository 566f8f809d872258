package firewall

import (
	"encoding/json"
	"errors"
	"testing"
)

// fuzzTree is a small tree for operations to act on.
func fuzzTree() Tree {
	p := NewPolicy()
	p.ID, p.FirewallID, p.Name, p.Priority = "p1", "fw", "baseline", 100
	web := NewRule()
	web.ID, web.FirewallID, web.PolicyID, web.Name, web.Position, web.Action = "r1", "fw", "p1", "web", 1, Allow
	ssh := NewRule()
	ssh.ID, ssh.FirewallID, ssh.PolicyID, ssh.Position, ssh.Action = "r2", "fw", "p1", 2, Deny
	fw := NewFirewall()
	fw.ID, fw.Name = "fw", "edge"
	return Tree{Firewall: fw, Policies: []PolicyTree{{Policy: p, Rules: []Rule{web, ssh}}}}
}

// FuzzOperations feeds arbitrary JSON to the operations parser and applies
// what it accepts to a small tree: no input may panic; a refusal is a
// validation error; an accepted list reads back the same from its own
// encoding; and a tree the operations produce is valid.
func FuzzOperations(f *testing.F) {
	for _, seed := range []string{
		`[{"op":"create_rule","policy_name":"baseline","rule":{"action":"deny","protocol":"tcp","destination_ports":["22"],"enabled":true,"position":1}}]`,
		`[{"op":"patch_rule","policy_id":"p1","rule_id":"r1","rule_patch":{"action":"reject","description":null}}]`,
		`[{"op":"move_rule","policy_id":"p1","rule_id":"r2","position":1}]`,
		`[{"op":"move_rule","policy_id":"p1","rule_id":"r1","after":"r2"}]`,
		`[{"op":"delete_rule","policy_name":"BASELINE","rule_name":"web"}]`,
		`[{"op":"create_policy","policy":{"name":"late","priority":5,"default_action":"next","enabled":true}},{"op":"create_rule","policy_name":"late","rule":{"action":"allow","enabled":true}}]`,
		`[{"op":"patch_policy","policy_id":"p1","policy_patch":{"priority":7,"enabled":null}}]`,
		`[{"op":"delete_policy","policy_id":"p1","cascade":true}]`,
		`[{"op":"delete_policy","policy_id":"p1"}]`,
		`[{"op":"explode"}]`, `[]`, `{}`, `null`, `[{"op":"create_rule"}]`, `[1]`,
		`[{"op":"patch_rule","policy_id":"p1","rule_id":"r1","rule_patch":{"sources":["10.0.0.1/8"]}}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := DecodeOperations(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalid {
				t.Fatalf("refusal %v is not a validation error", err)
			}
			return
		}
		enc, err := json.Marshal(ops)
		if err != nil {
			t.Fatalf("encode accepted operations: %v", err)
		}
		again, err := DecodeOperations(enc)
		if err != nil {
			t.Fatalf("the encoding %s of accepted operations is refused: %v", enc, err)
		}
		if enc2, _ := json.Marshal(again); string(enc2) != string(enc) {
			t.Fatalf("operations do not read back the same:\n%s\n%s", enc, enc2)
		}
		base := fuzzTree()
		before, _ := json.Marshal(base)
		out, err := ApplyOperations(base, ops)
		if after, _ := json.Marshal(base); string(after) != string(before) {
			t.Fatal("ApplyOperations changed the tree it was given")
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalid {
				t.Fatalf("failure %v is not a validation error", err)
			}
			return
		}
		if err := out.Validate(); err != nil {
			t.Fatalf("the operations made an invalid tree: %v", err)
		}
		for _, pt := range out.Policies {
			for i, r := range pt.Rules {
				if r.Position != i+1 || r.PolicyID != pt.Policy.ID {
					t.Fatalf("rule %s at %d of policy %s has position %d and policy %s", r.ID, i+1, pt.Policy.ID, r.Position, r.PolicyID)
				}
			}
		}
	})
}
