package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/storetest"
)

// openAt opens the store at path and closes it when the test ends.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// open returns a migrated store in a new file.
func open(t *testing.T) *Store {
	t.Helper()
	s := openAt(t, filepath.Join(t.TempDir(), "fireflow.db"))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	s := open(t)
	tests := []struct {
		pool       string
		db         *sql.DB
		name, want string
	}{
		{"writer", s.write, "journal_mode", "wal"},
		{"writer", s.write, "foreign_keys", "1"},
		{"writer", s.write, "synchronous", "2"}, // FULL
		{"writer", s.write, "busy_timeout", "5000"},
		{"writer", s.write, "query_only", "0"},
		{"reader", s.read, "journal_mode", "wal"},
		{"reader", s.read, "foreign_keys", "1"},
		{"reader", s.read, "busy_timeout", "5000"},
		{"reader", s.read, "query_only", "1"},
	}
	for _, tc := range tests {
		if got := pragma(t, tc.db, tc.name); got != tc.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.pool, tc.name, got, tc.want)
		}
	}
	if _, err := s.read.ExecContext(t.Context(), `DELETE FROM firewalls`); err == nil {
		t.Error("the reader pool accepted a write")
	}
}

// TestUpdateTakesWriteLockAtBegin checks that Update's transactions begin
// IMMEDIATE: before fn has written anything, another connection cannot
// start writing.
func TestUpdateTakesWriteLockAtBegin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fireflow.db")
	s := openAt(t, path)
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := other.ExecContext(ctx, `BEGIN IMMEDIATE; ROLLBACK`)
		if err == nil {
			t.Error("another connection took the write lock during Update")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.ExecContext(t.Context(), `BEGIN IMMEDIATE; ROLLBACK`); err != nil {
		t.Errorf("the write lock is still held after Update: %v", err)
	}
}

func TestMigrateDownAndUp(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "fireflow.db"))
	const latest = 2

	wantVersion := func(want int64) {
		t.Helper()
		current, last, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if current != want || last != latest {
			t.Fatalf("SchemaVersion = %d, %d; want %d, %d", current, last, want, latest)
		}
	}
	wantStatus := func(applied int) {
		t.Helper()
		status, err := s.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(status) != latest || status[0].Name != "00001_init.sql" {
			t.Fatalf("MigrationStatus = %+v, want %d migrations starting with 00001_init.sql", status, latest)
		}
		for i, m := range status {
			if m.Version != int64(i+1) || m.Applied != (i < applied) || m.AppliedAt.IsZero() == (i < applied) {
				t.Fatalf("MigrationStatus = %+v, want the first %d applied", status, applied)
			}
		}
	}

	wantVersion(0)
	if err := s.Ready(ctx); err == nil {
		t.Fatal("Ready succeeded on an empty database")
	}
	wantStatus(0)

	for range 2 { // migrating twice is harmless
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wantVersion(latest)
	wantStatus(latest)
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready after migrating: %v", err)
	}

	for v := int64(latest - 1); v >= 0; v-- {
		if err := s.MigrateDown(ctx); err != nil {
			t.Fatal(err)
		}
		wantVersion(v)
		wantStatus(int(v))
		if err := s.Ready(ctx); err == nil {
			t.Fatalf("Ready succeeded with the schema at %d of %d", v, latest)
		}
	}
	if _, err := s.read.ExecContext(ctx, `SELECT 1 FROM firewalls`); err == nil {
		t.Fatal("the down migrations left the firewalls table")
	}
	if err := s.MigrateDown(ctx); err == nil {
		t.Fatal("MigrateDown succeeded with nothing applied")
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wantVersion(latest)
	createFirewall(t, s, "edge")
}

func createFirewall(t *testing.T, s *Store, name string) firewall.Firewall {
	t.Helper()
	fw := firewall.NewFirewall()
	now := time.Now().UTC().Truncate(time.Microsecond)
	fw.ID, fw.Name, fw.ETag, fw.CreatedAt, fw.UpdatedAt = "fw-"+name, name, "e1", now, now
	err := s.Update(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.CreateFirewall(ctx, &fw) })
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fireflow.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	fw := createFirewall(t, s, "edge")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	if err := s.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetFirewall(t.Context(), fw.ID); err != nil {
		t.Fatal(err)
	}
}

func TestOpenPaths(t *testing.T) {
	t.Run("special characters", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "fire flow.db")
		openAt(t, path)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("the database file was not created at %s: %v", path, err)
		}
	})
	t.Run("missing directory", func(t *testing.T) {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "fireflow.db"))
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded in a directory that does not exist")
		}
	})
}

func TestUnavailableAfterClose(t *testing.T) {
	s := open(t)
	fw := createFirewall(t, s, "edge")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, getErr := s.GetFirewall(t.Context(), fw.ID)
	updateErr := s.Update(t.Context(), func(context.Context, store.Tx) error { return nil })
	for name, err := range map[string]error{"Ready": s.Ready(t.Context()), "GetFirewall": getErr, "Update": updateErr} {
		if code := firewall.CodeOf(err); code != firewall.CodeUnavailable {
			t.Errorf("%s after Close: %v (code %q), want code %q", name, err, code, firewall.CodeUnavailable)
		}
	}
}

// TestRefusesPositionsThatLeaveGaps covers a check the service makes first;
// the store repeats it so that positions stay 1..n whatever the caller does.
func TestRefusesPositionsThatLeaveGaps(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	fw := createFirewall(t, s, "edge")
	p := firewall.NewPolicy()
	p.ID, p.FirewallID, p.Name, p.ETag = "p1", fw.ID, "web", "e"
	var rules []firewall.Rule
	err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreatePolicy(ctx, &p); err != nil {
			return err
		}
		for _, id := range []string{"r1", "r2"} {
			r := firewall.NewRule()
			r.ID, r.FirewallID, r.PolicyID, r.Action, r.ETag = id, fw.ID, p.ID, firewall.Allow, "e"
			if err := tx.CreateRule(ctx, &r); err != nil {
				return err
			}
			rules = append(rules, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func(ctx context.Context, tx store.Tx) error
	}{
		{"create past the end", func(ctx context.Context, tx store.Tx) error {
			r := firewall.NewRule()
			r.ID, r.FirewallID, r.PolicyID, r.Action, r.Position, r.ETag = "r9", fw.ID, p.ID, firewall.Deny, 4, "e"
			return tx.CreateRule(ctx, &r)
		}},
		{"create at a negative position", func(ctx context.Context, tx store.Tx) error {
			r := firewall.NewRule()
			r.ID, r.FirewallID, r.PolicyID, r.Action, r.Position, r.ETag = "r9", fw.ID, p.ID, firewall.Deny, -1, "e"
			return tx.CreateRule(ctx, &r)
		}},
		{"move to 0", func(ctx context.Context, tx store.Tx) error { return tx.MoveRule(ctx, &rules[0], 0) }},
		{"move past the end", func(ctx context.Context, tx store.Tx) error { return tx.MoveRule(ctx, &rules[0], 3) }},
	}
	for _, tc := range tests {
		if code := firewall.CodeOf(s.Update(ctx, tc.call)); code != firewall.CodeInvalid {
			t.Errorf("%s: got code %q, want %q", tc.name, code, firewall.CodeInvalid)
		}
	}
	page, err := s.ListRules(ctx, fw.ID, p.ID, store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].ID != "r1" || page.Items[1].Position != 2 {
		t.Fatalf("rules changed: %+v", page.Items)
	}
}

func TestPoolStats(t *testing.T) {
	s := open(t)
	if _, err := s.GetRevision(t.Context(), "none"); firewall.CodeOf(err) != firewall.CodeNotFound {
		t.Fatalf("GetRevision: %v", err)
	}
	stats := s.PoolStats()
	if got := stats["write"].MaxOpenConnections; got != 1 {
		t.Errorf("write pool max %d, want 1", got)
	}
	if got := stats["read"]; got.MaxOpenConnections < 4 || got.OpenConnections < 1 {
		t.Errorf("read pool %+v: want at least 4 allowed and the one just used open", got)
	}
}
