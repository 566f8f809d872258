package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fireflow/fireflow/internal/store/storetest"
)

// TestBackfillRevisionGroups checks migration 00009's backfill on SQLite.
func TestBackfillRevisionGroups(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "fireflow.db"))
	if _, err := s.migrations.UpTo(t.Context(), 8); err != nil {
		t.Fatal(err)
	}
	storetest.CheckRevisionGroupsBackfill(t, storetest.Backfill{
		Exec: func(ctx context.Context, stmt string) error {
			_, err := s.write.ExecContext(ctx, stmt)
			return err
		},
		Migrate: s.Migrate,
		Store:   s,
		Time:    "0",
		True:    "1",
	})
}
