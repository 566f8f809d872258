package postgres

import (
	"context"
	"testing"

	"github.com/fireflow/fireflow/internal/pgtest"
	"github.com/fireflow/fireflow/internal/store/storetest"
)

// TestBackfillRevisionGroups checks migration 00009's backfill on PostgreSQL.
func TestBackfillRevisionGroups(t *testing.T) {
	s := openAt(t, pgtest.NewDatabase(t))
	if _, err := s.migrations.UpTo(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	storetest.CheckRevisionGroupsBackfill(t, storetest.Backfill{
		Exec: func(ctx context.Context, stmt string) error {
			_, err := s.pool.Exec(ctx, stmt)
			return err
		},
		Migrate: s.Migrate,
		Store:   s,
		Time:    `'2026-01-01T00:00:00Z'`,
		True:    "true",
	})
}
