package sqlite

import (
	"context"
	"database/sql"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/storetest"
)

// engine is how storetest reaches the SQLite store: a new file per
// database, ANALYZE after a bulk load.
func engine() storetest.Engine[*Store] {
	return storetest.Engine[*Store]{
		Fresh:      func(t testing.TB) string { return filepath.Join(t.TempDir(), "fireflow.db") },
		Open:       Open,
		Migrations: 9,
		Analyze: func(ctx context.Context, s *Store) error {
			_, err := s.write.ExecContext(ctx, "ANALYZE")
			return err
		},
	}
}

// openAt opens the store at path and closes it when the test ends.
func openAt(t testing.TB, path string) *Store { return engine().OpenAt(t, path) }

// open returns a migrated store in a new file.
func open(t testing.TB) *Store { return engine().Migrated(t) }

func TestConformance(t *testing.T) { engine().Suite(t) }

func TestMigrations(t *testing.T) { engine().MigrationSuite(t) }

func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, open(b)) }

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

// TestBackfillRuleIndex stores a rule the way the schema before 00003 did,
// with no child rows, and checks that migrating indexes it for the filters.
func TestBackfillRuleIndex(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "fireflow.db"))
	if _, err := s.migrations.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// Written as the old schema's store wrote it: the store of today would
	// also record history, whose tables do not exist yet.
	fw := firewall.Firewall{Meta: firewall.Meta{ID: "fw-edge"}, Revision: 3}
	for _, stmt := range []string{
		`INSERT INTO firewalls (id, name, name_key, description, labels, default_action, revision, etag, created_at, updated_at)
			VALUES ('fw-edge', 'edge', 'edge', '', '{}', 'deny', 3, 'e1', 0, 0)`,
		`INSERT INTO policies (id, firewall_id, name, name_key, priority, default_action, enabled, etag, created_at, updated_at)
			VALUES ('p', '` + fw.ID + `', 'main', 'main', 1, 'next', 1, 'e', 0, 0)`,
		`INSERT INTO rules (id, firewall_id, policy_id, name, position, action, protocol, sources, destination_ports, enabled, etag, created_at, updated_at)
			VALUES ('r', '` + fw.ID + `', 'p', 'old', 1, 'allow', 'tcp', '["10.0.0.0/8","2001:db8::/32"]', '["443"]', 1, 'e', 0, 0)`,
	} {
		if _, err := s.write.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`sources:"10.0.0.0/8"`, `source_contains("2001:db8::1") AND destination_ports:443`, `NOT source_contains("192.0.2.1")`} {
		page, err := s.ListRules(ctx, fw.ID, "p", firewall.Query{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1 {
			t.Errorf("after the backfill, %s selects %d rules, want the old one", f, len(page.Items))
		}
	}
	status, err := s.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if backfill := status[3]; backfill.Name != "00004_backfill_rule_match_index.go" || !backfill.Applied {
		t.Errorf("the backfill shows in the status as %+v", backfill)
	}
}

// TestBackfillHistory checks that migration 00006 gives a firewall written
// before it its current tree as the revision it stands at.
func TestBackfillHistory(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "fireflow.db"))
	if _, err := s.migrations.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO firewalls (id, name, name_key, description, labels, default_action, revision, etag, created_at, updated_at)
			VALUES ('fw', 'edge', 'edge', 'd', '{"env":"prod"}', 'deny', 7, 'e1', 0, 0)`,
		`INSERT INTO policies (id, firewall_id, name, name_key, priority, default_action, enabled, etag, created_at, updated_at, rule_count)
			VALUES ('p', 'fw', 'main', 'main', 1, 'next', 1, 'e', 0, 0, 2)`,
		`INSERT INTO rules (id, firewall_id, policy_id, name, order_key, action, protocol, sources, destination_ports, enabled, etag, created_at, updated_at)
			VALUES ('r2', 'fw', 'p', 'second', 9000000000000000000, 'deny', 'tcp', '["10.0.0.0/8"]', '["443"]', 1, 'e', 0, 0),
			       ('r1', 'fw', 'p', 'first', 4611686018427387904, 'allow', 'any', '[]', '[]', 0, 'e', 0, 0)`,
	} {
		if _, err := s.write.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	live, err := s.LoadTree(ctx, "fw")
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.TreeAt(ctx, "fw", 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(live, at, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" || len(at.Rules) != 2 || at.Rules[0].ID != "r1" {
		t.Errorf("revision 7 after the backfill differs from the live tree (-live +at):\n%s", diff)
	}
	if _, err := s.TreeAt(ctx, "fw", 6); firewall.CodeOf(err) != firewall.CodeGone {
		t.Errorf("revision 6, from before history was kept: %v, want gone", err)
	}
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
