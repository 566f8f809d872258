package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// Group versions do not pile up: a group no revision uses keeps only its
// current version, pruning revisions prunes the rows saying which version
// they used and the versions no kept revision uses, and deleting a
// firewall or a group drops what only it kept.
func TestGroupVersionsArePruned(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "fireflow.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	count := func(table, where string) int {
		t.Helper()
		var n int
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE `+where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	s.SetRetention(firewall.Retention{Keep: 3})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	meta := func() firewall.Meta {
		tick++
		return firewall.Meta{ID: fmt.Sprintf("id-%03d", tick), ETag: fmt.Sprint(tick), CreatedAt: at, UpdatedAt: at.Add(time.Duration(tick) * time.Second)}
	}
	update := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return fn(tx) }); err != nil {
			t.Fatal(err)
		}
	}
	fw := firewall.NewFirewall()
	fw.Meta, fw.Name, fw.Revision = meta(), "edge", 1
	p := firewall.NewPolicy()
	p.Meta, p.FirewallID, p.Name = meta(), fw.ID, "main"
	used := firewall.AddressGroup{Meta: meta(), Name: "used", Labels: map[string]string{}}
	idle := firewall.AddressGroup{Meta: meta(), Name: "idle", Labels: map[string]string{}}
	r := firewall.NewRule()
	r.Meta, r.FirewallID, r.PolicyID, r.Action = meta(), fw.ID, p.ID, firewall.Allow
	r.SourceGroups = []firewall.GroupRef{{ID: used.ID}}
	update(func(tx store.Tx) error {
		for _, err := range []error{tx.CreateFirewall(ctx, &fw), tx.CreatePolicy(ctx, &p),
			tx.CreateAddressGroup(ctx, &used), tx.CreateAddressGroup(ctx, &idle), tx.CreateRule(ctx, &r)} {
			if err != nil {
				return err
			}
		}
		return nil
	})
	for i := range 20 {
		for _, g := range []*firewall.AddressGroup{&used, &idle} {
			g.Addresses = []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", i))}
			g.ETag = meta().ETag
		}
		update(func(tx store.Tx) error {
			if err := tx.UpdateAddressGroup(ctx, &used); err != nil {
				return err
			}
			if err := tx.UpdateAddressGroup(ctx, &idle); err != nil {
				return err
			}
			_, err := tx.BumpRevision(ctx, fw.ID, meta().ETag, at.Add(time.Duration(tick)*time.Second))
			return err
		})
	}
	if n := count("group_versions", "group_id = '"+idle.ID+"'"); n != 1 {
		t.Errorf("a group no revision uses has %d versions, want its current one", n)
	}
	// Three revisions kept, each using its own version of the group.
	if n := count("firewall_group_versions", "1 = 1"); n != 3 {
		t.Errorf("%d rows say which group versions the firewall used, want 3", n)
	}
	if n := count("group_versions", "group_id = '"+used.ID+"'"); n != 3 {
		t.Errorf("the used group has %d versions, want the 3 the kept revisions use", n)
	}
	update(func(tx store.Tx) error { return tx.DeleteFirewall(ctx, fw.ID, true) })
	if n := count("firewall_group_versions", "1 = 1"); n != 0 {
		t.Errorf("a deleted firewall left %d group version rows", n)
	}
	if n := count("group_versions", "1 = 1"); n != 2 {
		t.Errorf("%d group versions after the firewall went, want the two groups' current ones", n)
	}
	update(func(tx store.Tx) error { return tx.DeleteAddressGroup(ctx, idle.ID) })
	if n := count("group_versions", "group_id = '"+idle.ID+"'"); n != 0 {
		t.Errorf("a deleted group nothing used left %d versions", n)
	}
}
