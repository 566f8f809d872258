package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/pgtest"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// engine is how storetest reaches the PostgreSQL store: a new database
// per test in the package's throwaway cluster, VACUUM ANALYZE after a bulk
// load.
func engine() storetest.Engine[*Store] {
	return storetest.Engine[*Store]{
		Fresh:      func(t testing.TB) string { return pgtest.NewDatabase(t) },
		Open:       func(ctx context.Context, at string) (*Store, error) { return Open(ctx, at) },
		Migrations: 9,
		Analyze: func(ctx context.Context, s *Store) error {
			_, err := s.pool.Exec(ctx, "VACUUM ANALYZE")
			return err
		},
	}
}

// openAt opens the store at url and closes it when the test ends.
func openAt(t testing.TB, url string) *Store { return engine().OpenAt(t, url) }

// open returns a migrated store on a fresh database.
func open(t testing.TB) *Store { return engine().Migrated(t) }

func TestConformance(t *testing.T) { engine().Suite(t) }

func TestMigrations(t *testing.T) { engine().MigrationSuite(t) }

func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, open(b)) }

// TestUpdateRetriesDeadlocks makes two transactions lock two firewalls in
// opposite orders. PostgreSQL aborts one with a deadlock (40P01); Update
// must run it again, so that both succeed.
func TestUpdateRetriesDeadlocks(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	ids := [2]string{"fw-a", "fw-b"}
	for _, id := range ids {
		fw := firewall.NewFirewall()
		now := time.Now().UTC().Truncate(time.Microsecond)
		fw.ID, fw.Name, fw.ETag, fw.CreatedAt, fw.UpdatedAt = id, id, "e", now, now
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return tx.CreateFirewall(ctx, &fw) }); err != nil {
			t.Fatal(err)
		}
	}
	var attempts [2]atomic.Int32
	locked := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var errs [2]error
	var wg sync.WaitGroup
	for i := range 2 {
		first, second := ids[i], ids[1-i]
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.LockFirewall(ctx, first); err != nil {
					return err
				}
				if attempts[i].Add(1) == 1 {
					// Once both hold their first lock, each waits for the other's.
					close(locked[i])
					<-locked[1-i]
				}
				_, err := tx.LockFirewall(ctx, second)
				return err
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if n := attempts[0].Load() + attempts[1].Load(); n < 3 {
		t.Fatalf("%d attempts in all; a deadlock should have made one transaction run twice", n)
	}
}

// TestUnavailableWhenServerIsDown checks that a server that refuses
// connections makes every call fail at once with firewall.CodeUnavailable,
// which the API answers with 503.
func TestUnavailableWhenServerIsDown(t *testing.T) {
	// Nothing listens on port 1 of the loopback address.
	s := openAt(t, "postgres://fireflow@127.0.0.1:1/fireflow?sslmode=disable")
	ctx := t.Context()
	_, getErr := s.GetFirewall(ctx, "fw")
	_, treeErr := s.LoadTree(ctx, "fw")
	updateErr := s.Update(ctx, func(context.Context, store.Tx) error { return nil })
	_, _, versionErr := s.SchemaVersion(ctx)
	for name, err := range map[string]error{"Ready": s.Ready(ctx), "GetFirewall": getErr, "LoadTree": treeErr, "Update": updateErr, "SchemaVersion": versionErr} {
		if code := firewall.CodeOf(err); code != firewall.CodeUnavailable {
			t.Errorf("%s: %v (code %q), want code %q", name, err, code, firewall.CodeUnavailable)
		}
	}
}

func TestOpenHidesPasswordOfBadURL(t *testing.T) {
	_, err := Open(t.Context(), "postgres://fireflow:s3cret@127.0.0.1:notaport/fireflow")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Open of a bad URL: %v; want an error without the password", err)
	}
}

func TestUnavailableCodes(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"08006", true}, // connection failure
		{"57P01", true}, // admin shutdown
		{"57P03", true}, // cannot connect now (starting up)
		{"53300", true}, // too many connections
		{"23505", false},
		{"40001", false},
		{"42P01", false}, // undefined table: a schema problem, not an outage
	}
	for _, tc := range tests {
		err := fmt.Errorf("query: %w", &pgconn.PgError{Code: tc.code})
		if got := unavailable(err); got != tc.want {
			t.Errorf("unavailable(SQLSTATE %s) = %v, want %v", tc.code, got, tc.want)
		}
	}
}

// TestBackfillRuleIndex stores a rule the way the schema before 00003 did,
// with no child rows, and checks that migrating indexes it for the filters.
func TestBackfillRuleIndex(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, pgtest.NewDatabase(t))
	if _, err := s.migrations.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`INSERT INTO firewalls (id, name, name_key, default_action, etag, created_at, updated_at)
			VALUES ('fw', 'edge', 'edge', 'deny', 'e', now(), now())`,
		`INSERT INTO policies (id, firewall_id, name, name_key, priority, default_action, enabled, etag, created_at, updated_at)
			VALUES ('p', 'fw', 'main', 'main', 1, 'next', true, 'e', now(), now())`,
		`INSERT INTO rules (id, firewall_id, policy_id, name, position, action, protocol, sources, destination_ports, enabled, etag, created_at, updated_at)
			VALUES ('r', 'fw', 'p', 'old', 1, 'allow', 'tcp', '["10.0.0.0/8","2001:db8::/32"]', '["443"]', true, 'e', now(), now())`,
	} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`sources:"10.0.0.0/8"`, `source_contains("2001:db8::1") AND destination_ports:443`, `NOT source_contains("192.0.2.1")`} {
		page, err := s.ListRules(ctx, "fw", "p", firewall.Query{Filter: f})
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
