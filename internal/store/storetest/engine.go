package storetest

import (
	"context"
	"testing"

	"github.com/fireflow/fireflow/internal/store"
)

// Engine is how the suites and benchmarks reach one store implementation,
// so that each implementation's tests say only what differs.
type Engine[S Migrator] struct {
	// Fresh returns the location of a new, empty database for t: a file
	// path or a database URL.
	Fresh func(t testing.TB) string
	// Open opens the store at a location, without migrating.
	Open func(ctx context.Context, at string) (S, error)
	// Analyze refreshes the query planner's statistics after a bulk load.
	Analyze func(ctx context.Context, s S) error
	// Migrations is the version of the store's newest migration.
	Migrations int64
}

// OpenAt opens the store at a location and closes it when the test ends.
func (e Engine[S]) OpenAt(t testing.TB, at string) S {
	t.Helper()
	s, err := e.Open(t.Context(), at)
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

// Migrated returns a migrated store on a fresh database.
func (e Engine[S]) Migrated(t testing.TB) S {
	t.Helper()
	s := e.OpenAt(t, e.Fresh(t))
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// Suite runs the conformance suite (Run) on fresh migrated stores.
func (e Engine[S]) Suite(t *testing.T) {
	Run(t, func(t *testing.T) store.Store { return e.Migrated(t) })
}

// MigrationSuite runs the migration suite (Migrations).
func (e Engine[S]) MigrationSuite(t *testing.T) {
	Migrations(t, func(t *testing.T) Migrator { return e.OpenAt(t, e.Fresh(t)) }, e.Migrations)
}

// FilterBenchmark runs the package's FilterBenchmark on a store holding
// FilterBenchTree, with fresh planner statistics.
func (e Engine[S]) FilterBenchmark(b *testing.B) {
	s := e.Migrated(b)
	LoadFilterBench(b, s)
	if err := e.Analyze(b.Context(), s); err != nil {
		b.Fatal(err)
	}
	FilterBenchmark(b, s)
}

// ReorderBenchmark runs the package's ReorderBenchmark on a fresh store.
func (e Engine[S]) ReorderBenchmark(b *testing.B) {
	s := e.Migrated(b)
	ReorderBenchmark(b, s, func(ctx context.Context) error { return e.Analyze(ctx, s) })
}

// HistoryBenchmark runs the package's HistoryBenchmark on a fresh store.
func (e Engine[S]) HistoryBenchmark(b *testing.B) {
	s := e.Migrated(b)
	HistoryBenchmark(b, s, func(ctx context.Context) error { return e.Analyze(ctx, s) })
}
