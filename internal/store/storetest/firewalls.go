package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func firewallCases() []testCase {
	return []testCase{
		{"Firewall/CreateGetRoundTrip", firewallRoundTrip},
		{"Firewall/UpdateKeepsRevisionAndCreatedAt", firewallUpdate},
		{"Firewall/NameUniqueCaseInsensitive", firewallNameUnique},
		{"Firewall/DeleteEmpty", firewallDeleteEmpty},
		{"Firewall/DeleteWithPoliciesNeedsCascade", firewallDeleteCascade},
		{"Firewall/BumpRevision", firewallBumpRevision},
		{"Firewall/LockFirewallReads", firewallLock},
		{"Firewall/NotFound", firewallNotFound},
		{"Firewall/ListEmpty", firewallListEmpty},
	}
}

func firewallRoundTrip(t *testing.T, f *fixture) {
	tests := []struct {
		name   string
		modify func(*firewall.Firewall)
	}{
		{"defaults", func(*firewall.Firewall) {}},
		{"every field", func(fw *firewall.Firewall) {
			fw.Description = "Edge firewall of the Paris site"
			fw.Labels = map[string]string{"env": "prod", "site": "par1", "example.com/team": "net", "empty": ""}
			fw.DefaultAction = firewall.Allow
			fw.Revision = 42
			fw.UpdatedAt = fw.CreatedAt.Add(90 * time.Minute)
		}},
		{"unicode name", func(fw *firewall.Firewall) { fw.Name = "Pare-feu Île-de-France 🔥" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			want := f.newFirewall("fw " + tc.name)
			tc.modify(&want)
			f.update(func(tx store.Tx) error { return tx.CreateFirewall(f.ctx, &want) })
			got, err := f.s.GetFirewall(f.ctx, want.ID)
			if err != nil {
				t.Fatal(err)
			}
			// An empty label set may come back nil or empty; both mean none.
			wantEqual(t, "firewall", got, want, cmpopts.EquateEmpty())
			wantUTC(t, got.CreatedAt, got.UpdatedAt)
		})
	}
}

func firewallUpdate(t *testing.T, f *fixture) {
	orig := f.firewall("edge")
	changed := orig
	changed.Name = "Edge-2"
	changed.Description = "renamed"
	changed.Labels = map[string]string{"env": "staging"}
	changed.DefaultAction = firewall.Allow
	changed.ETag = f.etag()
	changed.UpdatedAt = f.now()
	// Neither may change through UpdateFirewall.
	changed.Revision = 99
	changed.CreatedAt = f.now()
	f.update(func(tx store.Tx) error { return tx.UpdateFirewall(f.ctx, &changed) })

	got, err := f.s.GetFirewall(f.ctx, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := changed
	want.Revision, want.CreatedAt = orig.Revision, orig.CreatedAt
	wantEqual(t, "updated firewall", got, want)
}

func firewallNameUnique(t *testing.T, f *fixture) {
	edge := f.firewall("Edge")
	other := f.firewall("core")

	for _, name := range []string{"Edge", "edge", "EDGE"} {
		fw := f.newFirewall(name)
		err := f.try(func(tx store.Tx) error { return tx.CreateFirewall(f.ctx, &fw) })
		wantConflictOn(t, err, "name")
	}

	renamed := other
	renamed.Name = "eDGE"
	err := f.try(func(tx store.Tx) error { return tx.UpdateFirewall(f.ctx, &renamed) })
	wantConflictOn(t, err, "name")

	// A firewall may change the case of its own name.
	self := edge
	self.Name = "EDGE"
	f.update(func(tx store.Tx) error { return tx.UpdateFirewall(f.ctx, &self) })

	page, err := f.s.ListFirewalls(f.ctx, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 {
		t.Fatalf("got %d firewalls after refused creates, want 2", len(page.Items))
	}
}

func firewallDeleteEmpty(t *testing.T, f *fixture) {
	for _, cascade := range []bool{false, true} {
		fw := f.firewall("edge")
		f.update(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, fw.ID, cascade) })
		_, err := f.s.GetFirewall(f.ctx, fw.ID)
		wantNotFound(t, err, "firewall", fw.ID)
		err = f.try(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, fw.ID, cascade) })
		wantNotFound(t, err, "firewall", fw.ID)
	}
}

func firewallDeleteCascade(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 3)
	f.policy(fw.ID, "second", 200)
	keepFW, keepP, keepRules := f.tree("core", 2)

	err := f.try(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, fw.ID, false) })
	wantCode(t, err, firewall.CodeConflict)
	if _, err := f.s.GetRule(f.ctx, fw.ID, p.ID, rules[0].ID); err != nil {
		t.Fatalf("refused delete removed a rule: %v", err)
	}

	f.update(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, fw.ID, true) })
	_, err = f.s.GetFirewall(f.ctx, fw.ID)
	wantNotFound(t, err, "firewall", fw.ID)
	_, err = f.s.GetRule(f.ctx, fw.ID, p.ID, rules[0].ID)
	wantNotFound(t, err, "firewall", fw.ID)

	wantEqual(t, "rules of the other firewall", f.ruleIDs(keepFW.ID, keepP.ID), idsOf(keepRules))
	// The name is free again.
	f.firewall("EDGE")
}

func firewallBumpRevision(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	want := fw
	for i := range 3 {
		etag, at := f.etag(), f.now()
		var rev int64
		f.update(func(tx store.Tx) error {
			var err error
			rev, err = tx.BumpRevision(f.ctx, fw.ID, etag, at)
			return err
		})
		if wantRev := fw.Revision + int64(i) + 1; rev != wantRev {
			t.Fatalf("BumpRevision returned %d, want %d", rev, wantRev)
		}
		want.Revision, want.ETag, want.UpdatedAt = rev, etag, at
		got, err := f.s.GetFirewall(f.ctx, fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "bumped firewall", got, want)
	}
}

func firewallLock(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	f.update(func(tx store.Tx) error {
		got, err := tx.LockFirewall(f.ctx, fw.ID)
		if err != nil {
			return err
		}
		wantEqual(t, "locked firewall", got, fw)
		return nil
	})
}

func firewallNotFound(t *testing.T, f *fixture) {
	missing := f.id()
	fw := f.newFirewall("ghost")
	fw.ID = missing
	tests := []struct {
		name string
		call func(tx store.Tx) error
	}{
		{"GetFirewall", func(store.Tx) error { _, err := f.s.GetFirewall(f.ctx, missing); return err }},
		{"LockFirewall", func(tx store.Tx) error { _, err := tx.LockFirewall(f.ctx, missing); return err }},
		{"BumpRevision", func(tx store.Tx) error { _, err := tx.BumpRevision(f.ctx, missing, "e", f.now()); return err }},
		{"UpdateFirewall", func(tx store.Tx) error { return tx.UpdateFirewall(f.ctx, &fw) }},
		{"DeleteFirewall", func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, missing, false) }},
		{"DeleteFirewallCascade", func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, missing, true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := f.with(t)
			wantNotFound(t, f.try(tc.call), "firewall", missing)
		})
	}
}

func firewallListEmpty(t *testing.T, f *fixture) {
	page, err := f.s.ListFirewalls(f.ctx, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 || page.NextPageToken != "" {
		t.Fatalf("got %+v, want an empty last page", page)
	}
}
