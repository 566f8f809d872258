package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/fireflow/fireflow/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// newMigrationProvider returns the goose provider over the pool, and a
// function that releases the database/sql handle goose needs.
func newMigrationProvider(pool *pgxpool.Pool) (*goose.Provider, func() error, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	// Two replicas, or a replica and a Helm hook, may migrate at once; an
	// advisory lock held for the run makes the second wait for the first.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("load migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	// The CLI reports outcomes itself, so goose stays quiet.
	p, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(locker),
		goose.WithGoMigrations(backfillMigration()))
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("load migrations: %w", err), db.Close())
	}
	return p, db.Close, nil
}

// Migrate applies every pending migration.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.migrations.Up(ctx); err != nil {
		return classify(err, "migrate up")
	}
	return nil
}

// MigrateDown rolls back the most recently applied migration.
func (s *Store) MigrateDown(ctx context.Context) error {
	_, err := s.migrations.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return errors.New("migrate down: no migration is applied")
	}
	return classify(err, "migrate down")
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
	err = s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, goose.DefaultTablename).Scan(&exists)
	if err != nil {
		return 0, latest, classify(err, "read schema version")
	}
	if !exists {
		return 0, latest, nil
	}
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM `+goose.DefaultTablename).Scan(&current)
	if err != nil {
		return 0, latest, classify(err, "read schema version")
	}
	return current, latest, nil
}
