package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func newMigrationProvider(db *sql.DB) (*goose.Provider, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	// The CLI reports outcomes itself, so goose stays quiet.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, files,
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(backfillMigration()))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.migrations.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// MigrateDown rolls back the most recently applied migration.
func (s *Store) MigrateDown(ctx context.Context) error {
	_, err := s.migrations.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return errors.New("migrate down: no migration is applied")
	}
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// MigrationStatus lists every embedded migration in version order.
func (s *Store) MigrationStatus(ctx context.Context) ([]store.MigrationState, error) {
	return store.MigrationStatus(ctx, s.migrations)
}

// SchemaVersion returns the database's schema version (0 if none is
// applied) and the newest embedded one.
func (s *Store) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	sources := s.migrations.ListSources()
	latest = sources[len(sources)-1].Version
	// Reading the version table directly, rather than through goose, keeps
	// this free of writes: goose creates the table when it is missing, and
	// readiness probes must not change the database.
	var exists bool
	err = s.read.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?)`,
		goose.DefaultTablename).Scan(&exists)
	if err != nil {
		return 0, latest, classify(err, "read schema version")
	}
	if !exists {
		return 0, latest, nil
	}
	err = s.read.QueryRowContext(ctx,
		`SELECT COALESCE(MAX(version_id), 0) FROM `+goose.DefaultTablename).Scan(&current)
	if err != nil {
		return 0, latest, classify(err, "read schema version")
	}
	return current, latest, nil
}
