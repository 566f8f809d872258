package postgres

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// newMigrationProvider returns the goose provider over the pool, and a
// function that releases the database/sql handle goose needs.
func newMigrationProvider(pool *pgxpool.Pool, d sqlstore.Dialect) (*goose.Provider, func() error, error) {
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
		goose.WithGoMigrations(sqlstore.BackfillMigration(d)))
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("load migrations: %w", err), db.Close())
	}
	return p, db.Close, nil
}

// tableExists asks whether the table named by its argument exists.
const tableExists = `SELECT to_regclass(?) IS NOT NULL`
