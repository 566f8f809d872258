package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func policyCases() []testCase {
	return []testCase{
		{"Policy/CreateGetRoundTrip", policyRoundTrip},
		{"Policy/UpdateKeepsFirewallAndCreatedAt", policyUpdate},
		{"Policy/NameUniqueWithinFirewall", policyNameUnique},
		{"Policy/PriorityUniqueWithinFirewall", policyPriorityUnique},
		{"Policy/CreateInMissingFirewall", policyCreateMissingFirewall},
		{"Policy/DeleteWithRulesNeedsCascade", policyDeleteCascade},
		{"Policy/NotFoundNamesMissingAncestor", policyNotFound},
		{"Policy/ListEmpty", policyListEmpty},
	}
}

func policyRoundTrip(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	tests := []struct {
		name   string
		modify func(*firewall.Policy)
	}{
		{"defaults", func(*firewall.Policy) {}},
		{"lowest priority, disabled, deny", func(p *firewall.Policy) {
			p.Priority, p.Enabled, p.DefaultAction = 0, false, firewall.Deny
			p.Description = "block everything else"
		}},
		{"highest priority, allow", func(p *firewall.Policy) {
			p.Priority, p.DefaultAction = firewall.MaxPriority, firewall.Allow
			p.UpdatedAt = p.CreatedAt.Add(time.Microsecond)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			want := f.newPolicy(fw.ID, tc.name, 1000+i)
			tc.modify(&want)
			f.update(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &want) })
			got, err := f.s.GetPolicy(f.ctx, fw.ID, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "policy", got, want)
			wantUTC(t, got.CreatedAt, got.UpdatedAt)
		})
	}
}

func policyUpdate(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	orig := f.policy(fw.ID, "web", 100)
	changed := orig
	changed.Name = "Web-2"
	changed.Description = "changed"
	changed.Priority = 7
	changed.DefaultAction = firewall.Deny
	changed.Enabled = false
	changed.ETag = f.etag()
	changed.UpdatedAt = f.now()
	changed.CreatedAt = f.now() // must not change
	f.update(func(tx store.Tx) error { return tx.UpdatePolicy(f.ctx, &changed) })

	got, err := f.s.GetPolicy(f.ctx, fw.ID, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := changed
	want.CreatedAt = orig.CreatedAt
	wantEqual(t, "updated policy", got, want)
}

func policyNameUnique(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	web := f.policy(fw.ID, "Web", 100)
	ssh := f.policy(fw.ID, "ssh", 200)

	for i, name := range []string{"Web", "web", "WEB"} {
		p := f.newPolicy(fw.ID, name, 300+i)
		err := f.try(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &p) })
		wantConflictOn(t, err, "name")
	}
	renamed := ssh
	renamed.Name = "wEB"
	wantConflictOn(t, f.try(func(tx store.Tx) error { return tx.UpdatePolicy(f.ctx, &renamed) }), "name")

	self := web
	self.Name = "WEB"
	f.update(func(tx store.Tx) error { return tx.UpdatePolicy(f.ctx, &self) })

	// Names are unique per firewall only.
	other := f.firewall("core")
	f.policy(other.ID, "web", 100)
}

func policyPriorityUnique(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	f.policy(fw.ID, "web", 100)
	ssh := f.policy(fw.ID, "ssh", 200)

	p := f.newPolicy(fw.ID, "dns", 100)
	msg := wantConflictOn(t, f.try(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &p) }), "priority")
	if !strings.Contains(msg, "100") || !strings.Contains(msg, `"web"`) {
		t.Errorf("conflict message %q does not name the priority and the policy holding it", msg)
	}
	moved := ssh
	moved.Priority = 100
	wantConflictOn(t, f.try(func(tx store.Tx) error { return tx.UpdatePolicy(f.ctx, &moved) }), "priority")

	// Priorities are unique per firewall only.
	other := f.firewall("core")
	f.policy(other.ID, "web", 100)
	page, err := f.s.ListPolicies(f.ctx, fw.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 {
		t.Fatalf("got %d policies after refused writes, want 2", len(page.Items))
	}
}

func policyCreateMissingFirewall(t *testing.T, f *fixture) {
	missing := f.id()
	p := f.newPolicy(missing, "web", 100)
	wantNotFound(t, f.try(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &p) }), "firewall", missing)
}

func policyDeleteCascade(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 3)
	keep := f.policy(fw.ID, "keep", 200)
	keepRules := []firewall.Rule{f.rule(fw.ID, keep.ID, 0, "a"), f.rule(fw.ID, keep.ID, 0, "b")}

	wantCode(t, f.try(func(tx store.Tx) error { return tx.DeletePolicy(f.ctx, fw.ID, p.ID, false) }), firewall.CodeConflict)
	wantEqual(t, "rules after a refused delete", f.ruleIDs(fw.ID, p.ID), idsOf(rules))

	f.update(func(tx store.Tx) error { return tx.DeletePolicy(f.ctx, fw.ID, p.ID, true) })
	_, err := f.s.GetPolicy(f.ctx, fw.ID, p.ID)
	wantNotFound(t, err, "filtering policy", p.ID)
	_, err = f.s.GetRule(f.ctx, fw.ID, p.ID, rules[0].ID)
	wantNotFound(t, err, "filtering policy", p.ID)
	wantEqual(t, "rules of the other policy", f.ruleIDs(fw.ID, keep.ID), idsOf(keepRules))

	// An empty policy needs no cascade, and its priority is free again.
	empty := f.policy(fw.ID, "empty", 300)
	f.update(func(tx store.Tx) error { return tx.DeletePolicy(f.ctx, fw.ID, empty.ID, false) })
	f.policy(fw.ID, "again", 300)
}

func policyNotFound(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	p := f.policy(fw.ID, "web", 100)
	other := f.firewall("core")
	missingFW, missingP := f.id(), f.id()

	// elsewhere is p as if it were in another firewall.
	elsewhere := p
	elsewhere.FirewallID = other.ID
	ghost := f.newPolicy(fw.ID, "ghost", 1)
	ghost.ID = missingP
	orphan := f.newPolicy(missingFW, "orphan", 1)

	tests := []struct {
		name     string
		call     func(tx store.Tx) error
		kind, id string
	}{
		{"Get/firewall missing", func(store.Tx) error { _, err := f.s.GetPolicy(f.ctx, missingFW, p.ID); return err }, "firewall", missingFW},
		{"Get/policy missing", func(store.Tx) error { _, err := f.s.GetPolicy(f.ctx, fw.ID, missingP); return err }, "filtering policy", missingP},
		{"Get/policy in another firewall", func(store.Tx) error { _, err := f.s.GetPolicy(f.ctx, other.ID, p.ID); return err }, "filtering policy", p.ID},
		{"GetInTx/policy missing", func(tx store.Tx) error { _, err := tx.GetPolicy(f.ctx, fw.ID, missingP); return err }, "filtering policy", missingP},
		{"List/firewall missing", func(store.Tx) error { _, err := f.s.ListPolicies(f.ctx, missingFW, firewall.Query{}); return err }, "firewall", missingFW},
		{"Update/firewall missing", func(tx store.Tx) error { return tx.UpdatePolicy(f.ctx, &orphan) }, "firewall", missingFW},
		{"Update/policy missing", func(tx store.Tx) error { return tx.UpdatePolicy(f.ctx, &ghost) }, "filtering policy", missingP},
		{"Update/policy in another firewall", func(tx store.Tx) error { return tx.UpdatePolicy(f.ctx, &elsewhere) }, "filtering policy", p.ID},
		{"Delete/firewall missing", func(tx store.Tx) error { return tx.DeletePolicy(f.ctx, missingFW, p.ID, true) }, "firewall", missingFW},
		{"Delete/policy missing", func(tx store.Tx) error { return tx.DeletePolicy(f.ctx, fw.ID, missingP, false) }, "filtering policy", missingP},
		{"Delete/policy in another firewall", func(tx store.Tx) error { return tx.DeletePolicy(f.ctx, other.ID, p.ID, true) }, "filtering policy", p.ID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			wantNotFound(t, f.try(tc.call), tc.kind, tc.id)
		})
	}
	if _, err := f.s.GetPolicy(f.ctx, fw.ID, p.ID); err != nil {
		t.Fatalf("the policy did not survive the failed calls: %v", err)
	}
}

func policyListEmpty(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	page, err := f.s.ListPolicies(f.ctx, fw.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 || page.NextPageToken != "" {
		t.Fatalf("got %+v, want an empty last page", page)
	}
}
