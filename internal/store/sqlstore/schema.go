package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/store"
)

// Schema applies and reports a database's embedded goose migrations.
type Schema struct {
	provider *goose.Provider
	read     conn
	// tableExists asks whether the table named by its argument exists.
	tableExists string
}

// NewSchema returns the Schema of provider's migrations. read answers the
// version queries; tableExists is a query taking a table name and
// answering whether the table exists.
func NewSchema(provider *goose.Provider, read Conn, d Dialect, tableExists string) Schema {
	return Schema{provider: provider, read: conn{c: read, d: d}, tableExists: tableExists}
}

// Migrate applies every pending migration.
func (s Schema) Migrate(ctx context.Context) error {
	if _, err := s.provider.Up(ctx); err != nil {
		return s.read.d.classify(err, "migrate up")
	}
	return nil
}

// MigrateDown rolls back the most recently applied migration.
func (s Schema) MigrateDown(ctx context.Context) error {
	_, err := s.provider.Down(ctx)
	if errors.Is(err, goose.ErrNoNextVersion) {
		return errors.New("migrate down: no migration is applied")
	}
	return s.read.d.classify(err, "migrate down")
}

// MigrationStatus lists every embedded migration in version order.
func (s Schema) MigrationStatus(ctx context.Context) ([]store.MigrationState, error) {
	status, err := s.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]store.MigrationState, len(status))
	for i, m := range status {
		out[i] = store.MigrationState{
			Version:   m.Source.Version,
			Name:      path.Base(m.Source.Path),
			Applied:   m.State == goose.StateApplied,
			AppliedAt: m.AppliedAt.UTC(),
		}
	}
	return out, nil
}

// SchemaVersion returns the database's schema version (0 if none is
// applied) and the newest embedded one.
func (s Schema) SchemaVersion(ctx context.Context) (current, latest int64, err error) {
	sources := s.provider.ListSources()
	latest = sources[len(sources)-1].Version
	// Reading the version table directly, rather than through goose, keeps
	// this free of writes: goose creates the table when it is missing, and
	// readiness probes must not change the database.
	var exists bool
	if err := s.read.queryRow(ctx, s.tableExists, goose.DefaultTablename).Scan(&exists); err != nil {
		return 0, latest, s.read.d.classify(err, "read schema version")
	}
	if !exists {
		return 0, latest, nil
	}
	err = s.read.queryRow(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM `+goose.DefaultTablename).Scan(&current)
	if err != nil {
		return 0, latest, s.read.d.classify(err, "read schema version")
	}
	return current, latest, nil
}

// CheckCurrent reports an error if the schema is older than the newest
// embedded migration. A newer schema is accepted, so that the old version
// keeps serving while a rolling upgrade runs.
func (s Schema) CheckCurrent(ctx context.Context) error {
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current < latest {
		return fmt.Errorf("database schema is at version %d but this build needs %d; run `fireflow migrate up`", current, latest)
	}
	return nil
}
