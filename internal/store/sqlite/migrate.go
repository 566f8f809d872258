package sqlite

import (
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

func newMigrationProvider(db *sql.DB, d sqlstore.Dialect) (*goose.Provider, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	// The CLI reports outcomes itself, so goose stays quiet.
	p, err := goose.NewProvider(goose.DialectSQLite3, db, files,
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(sqlstore.BackfillMigration(d)))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// tableExists asks whether the table named by its argument exists.
const tableExists = `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?)`
