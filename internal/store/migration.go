package store

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/pressly/goose/v3"
)

// MigrationState is one embedded migration and whether the database has it.
type MigrationState struct {
	// Version is the number the file name starts with.
	Version int64
	// Name is the file name, such as "00001_init.sql".
	Name string
	// Applied reports whether the migration is in the database.
	Applied bool
	// AppliedAt is when it was applied, in UTC; zero if it is pending.
	AppliedAt time.Time
}

// MigrationStatus lists every migration of p in version order.
func MigrationStatus(ctx context.Context, p *goose.Provider) ([]MigrationState, error) {
	status, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, len(status))
	for i, m := range status {
		out[i] = MigrationState{
			Version:   m.Source.Version,
			Name:      path.Base(m.Source.Path),
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt.UTC(),
		}
	}
	return out, nil
}
