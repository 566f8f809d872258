package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// A renumbered policy's rules get versions with their new keys, so that
// revisions before and after the renumbering both number their rules right.
func TestRenumberKeepsHistory(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	meta := func() firewall.Meta {
		tick++
		return firewall.Meta{ID: fmt.Sprintf("id-%03d", tick), ETag: fmt.Sprint(tick), CreatedAt: at, UpdatedAt: at.Add(time.Duration(tick) * time.Second)}
	}
	fw := firewall.NewFirewall()
	fw.Meta, fw.Name, fw.Revision = meta(), "edge", 1
	p := firewall.NewPolicy()
	p.Meta, p.FirewallID, p.Name = meta(), fw.ID, "main"
	trees := map[int64]store.Tree{}
	change := func(fn func(tx store.Tx) error) {
		t.Helper()
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			_, err := tx.BumpRevision(ctx, fw.ID, meta().ETag, at.Add(time.Duration(tick)*time.Second))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		live, err := s.LoadTree(ctx, fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		trees[live.Firewall.Revision] = live
	}
	insert := func(pos int) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			r := firewall.NewRule()
			r.Meta, r.FirewallID, r.PolicyID, r.Position, r.Action = meta(), fw.ID, p.ID, pos, firewall.Allow
			return tx.CreateRule(ctx, &r)
		}
	}
	change(func(tx store.Tx) error {
		if err := tx.CreateFirewall(ctx, &fw); err != nil {
			return err
		}
		return tx.CreatePolicy(ctx, &p)
	})
	for range 4 {
		change(insert(0))
	}
	for range 6 { // midpoints: keys the renumbering moves
		change(insert(2))
	}
	change(func(tx store.Tx) error {
		return tx.(interface {
			Renumber(context.Context, string) error
		}).Renumber(ctx, p.ID)
	})
	for range 3 {
		change(insert(3))
	}
	for rev, want := range trees {
		got, err := s.TreeAt(ctx, fw.ID, rev)
		if err != nil {
			t.Fatalf("TreeAt(%d): %v", rev, err)
		}
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
			t.Fatalf("revision %d (-live then +read):\n%s", rev, d)
		}
	}
}

// A rule deleted and created again under the same id in one transaction
// ends its old version there, as a rule created afresh has none to end.
func TestRecreatedRuleKeepsHistory(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fw := firewall.NewFirewall()
	fw.Meta, fw.Name, fw.Revision = firewall.Meta{ID: "fw", ETag: "1", CreatedAt: at, UpdatedAt: at}, "edge", 1
	p := firewall.NewPolicy()
	p.Meta, p.FirewallID, p.Name = firewall.Meta{ID: "p", ETag: "1", CreatedAt: at, UpdatedAt: at}, fw.ID, "main"
	rule := func(name string) firewall.Rule {
		r := firewall.NewRule()
		r.Meta, r.FirewallID, r.PolicyID, r.Name, r.Action = firewall.Meta{ID: "r", ETag: name, CreatedAt: at, UpdatedAt: at}, fw.ID, p.ID, name, firewall.Allow
		return r
	}
	trees := map[int64]store.Tree{}
	for i, fn := range []func(tx store.Tx) error{
		func(tx store.Tx) error {
			r := rule("old")
			return errors.Join(tx.CreateFirewall(ctx, &fw), tx.CreatePolicy(ctx, &p), tx.CreateRule(ctx, &r))
		},
		func(tx store.Tx) error {
			r := rule("new")
			return errors.Join(tx.DeleteRule(ctx, fw.ID, p.ID, r.ID), tx.CreateRule(ctx, &r))
		},
	} {
		err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			_, err := tx.BumpRevision(ctx, fw.ID, fmt.Sprint(i+2), at)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		live, err := s.LoadTree(ctx, fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		trees[live.Firewall.Revision] = live
	}
	for rev, want := range trees {
		got, err := s.TreeAt(ctx, fw.ID, rev)
		if err != nil {
			t.Fatalf("TreeAt(%d): %v", rev, err)
		}
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
			t.Fatalf("revision %d (-live then +read):\n%s", rev, d)
		}
	}
}
