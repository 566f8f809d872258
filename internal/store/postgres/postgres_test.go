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

// openAt opens the store at url and closes it when the test ends.
func openAt(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url)
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

// open returns a migrated store on a fresh database.
func open(t testing.TB) *Store {
	t.Helper()
	s := openAt(t, pgtest.NewDatabase(t))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

func BenchmarkStore(b *testing.B) { storetest.Benchmark(b, open(b)) }

func TestMigrations(t *testing.T) {
	storetest.Migrations(t, func(t *testing.T) storetest.Migrator {
		return openAt(t, pgtest.NewDatabase(t))
	}, 4)
}

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
