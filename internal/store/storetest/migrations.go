package storetest

import (
	"context"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// Migrator is a store that manages its own schema, as both stores do.
type Migrator interface {
	store.Store
	Migrate(ctx context.Context) error
	MigrateDown(ctx context.Context) error
	SchemaVersion(ctx context.Context) (current, latest int64, err error)
	MigrationStatus(ctx context.Context) ([]store.MigrationState, error)
}

// Migrations is the migration suite: on an empty database, migrating up
// (twice), down one step at a time to nothing, and up again must work,
// with the version, the status and readiness following each step. open
// must return a store on an empty, unmigrated database.
func Migrations(t *testing.T, open func(t *testing.T) Migrator, latest int64) {
	ctx := t.Context()
	s := open(t)

	wantVersion := func(want int64) {
		t.Helper()
		current, last, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if current != want || last != latest {
			t.Fatalf("SchemaVersion = %d, %d; want %d, %d", current, last, want, latest)
		}
		status, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Versions rise but may skip numbers that other branches hold.
		if len(status) == 0 || status[len(status)-1].Version != latest || status[0].Name != "00001_init.sql" {
			t.Fatalf("MigrationStatus = %+v, want migrations up to %d starting with 00001_init.sql", status, latest)
		}
		for i, m := range status {
			applied := m.Version <= want
			if (i > 0 && m.Version <= status[i-1].Version) || m.Applied != applied || m.AppliedAt.IsZero() == applied {
				t.Fatalf("MigrationStatus = %+v, want the first %d applied", status, want)
			}
		}
		err = s.Ready(ctx)
		if want == latest && err != nil {
			t.Fatalf("Ready at the latest version: %v", err)
		}
		if want < latest && err == nil {
			t.Fatalf("Ready succeeded with the schema at %d of %d", want, latest)
		}
	}

	wantVersion(0)
	for range 2 { // migrating twice is harmless
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wantVersion(latest)
	f := newFixture(t, s)
	f.tree("before", 2)

	status, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(status) - 1; i >= 0; i-- {
		if err := s.MigrateDown(ctx); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			wantVersion(status[i-1].Version)
		} else {
			wantVersion(0)
		}
	}
	if _, err := s.ListFirewalls(ctx, firewall.Query{}); err == nil {
		t.Fatal("the down migrations left the firewalls table")
	}
	if err := s.MigrateDown(ctx); err == nil {
		t.Fatal("MigrateDown succeeded with nothing applied")
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wantVersion(latest)
	// The schema works again, and starts empty.
	fw, p, rules := f.tree("after", 3)
	wantEqual(t, "rules after migrating again", f.ruleIDs(fw.ID, p.ID), idsOf(rules))
	page, err := s.ListFirewalls(ctx, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 {
		t.Fatalf("%d firewalls after down and up, want only the new one", len(page.Items))
	}
}
