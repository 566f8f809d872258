// Package sqlite implements store.Store on SQLite, using the pure-Go
// modernc.org/sqlite driver and embedded goose migrations.
//
// A Store holds two connection pools on one database file in WAL mode: a
// writer pool of one connection, whose transactions begin IMMEDIATE so that
// they take the write lock up front instead of failing to upgrade it later,
// and a pool of query-only readers that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// busyTimeoutMS is how long a connection waits for a lock held by another
// process, such as a migration, before it gives up with SQLITE_BUSY.
const busyTimeoutMS = 5000

// Store is a FireFlow database in one SQLite file.
type Store struct {
	reader
	write      *sql.DB
	read       *sql.DB
	stmts      *stmtCache
	migrations *goose.Provider
}

var _ store.Store = (*Store)(nil)

// Open opens the database file at path, creating the file but not its
// directory. It does not migrate; call Migrate for that.
func Open(ctx context.Context, path string) (*Store, error) {
	write, err := openPool(ctx, path, writerParams(), 1)
	if err != nil {
		return nil, err
	}
	// The writer has created the file and switched it to WAL, which readers
	// need, so the readers open second.
	read, err := openPool(ctx, path, readerParams(), max(4, runtime.GOMAXPROCS(0)))
	if err != nil {
		return nil, errors.Join(err, write.Close())
	}
	provider, err := newMigrationProvider(write)
	if err != nil {
		return nil, errors.Join(err, write.Close(), read.Close())
	}
	stmts := newStmtCache(read)
	return &Store{reader: reader{q: stmts}, write: write, read: read, stmts: stmts, migrations: provider}, nil
}

func writerParams() url.Values {
	v := commonParams()
	v.Add("_pragma", "journal_mode(WAL)")
	// FULL syncs the WAL on every commit, so that an acknowledged write
	// survives a power loss too, not only a crash of the process.
	v.Add("_pragma", "synchronous(FULL)")
	v.Set("_txlock", "immediate")
	return v
}

func readerParams() url.Values {
	v := commonParams()
	// The readers need to create the -shm file, so they open read-write and
	// refuse writes per connection instead.
	v.Add("_pragma", "query_only(1)")
	return v
}

func commonParams() url.Values {
	v := url.Values{}
	v.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	v.Add("_pragma", "foreign_keys(1)")
	return v
}

func openPool(ctx context.Context, path string, params url.Values, conns int) (*sql.DB, error) {
	// A file: URI keeps a '?' or '#' in the path from being read as the
	// start of the parameters.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + params.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	// Ping opens the first connection, which creates the file and applies
	// the pragmas, so that a bad path fails here and not on first use.
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open sqlite database %s: %w", path, err), db.Close())
	}
	return db, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	// The writer goes last, so that the last connection to close, which
	// checkpoints the WAL into the database file, is not a query-only one.
	readErr := s.read.Close()
	return errors.Join(readErr, s.write.Close())
}

// PoolStats returns the statistics of the two connection pools, "write"
// (one connection: SQLite has one writer) and "read", for metrics.
func (s *Store) PoolStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"write": s.write.Stats(), "read": s.read.Stats()}
}

// Ready reports an error if the database does not answer or its schema is
// older than the newest embedded migration. A newer schema is accepted, so
// that the old version keeps serving while a rolling upgrade runs.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return firewall.Unavailable(err)
	}
	current, latest, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if current < latest {
		return fmt.Errorf("database schema is at version %d but this build needs %d; run `fireflow migrate up`", current, latest)
	}
	return nil
}

// Update runs fn in a transaction on the writer connection.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return classify(err, "begin transaction")
	}
	// After a commit this is a no-op; it matters when fn fails or panics.
	defer func() { _ = sqlTx.Rollback() }()
	if err := fn(ctx, &tx{reader{q: sqlTx}}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return classify(err, "commit transaction")
	}
	return nil
}

// querier is what a pool and a transaction have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements store.Reader on a pool or inside a transaction.
type reader struct {
	q querier
}

// tx implements store.Tx.
type tx struct {
	reader
}

var _ store.Tx = (*tx)(nil)
