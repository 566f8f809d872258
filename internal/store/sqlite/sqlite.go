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
	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

// busyTimeoutMS is how long a connection waits for a lock held by another
// process, such as a migration, before it gives up with SQLITE_BUSY.
const busyTimeoutMS = 5000

// Store is a FireFlow database in one SQLite file.
type Store struct {
	*sqlstore.Store
	sqlstore.Schema
	write      *sql.DB
	read       *sql.DB
	stmts      *stmtCache
	writeStmts *stmtCache
	migrations *goose.Provider
	d          sqlstore.Dialect
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
	d := dialect()
	provider, err := newMigrationProvider(write, d)
	if err != nil {
		return nil, errors.Join(err, write.Close(), read.Close())
	}
	stmts := newStmtCache(read)
	s := &Store{write: write, read: read, stmts: stmts, writeStmts: newStmtCache(write), migrations: provider, d: d,
		Schema: sqlstore.NewSchema(provider, sqlstore.DatabaseSQL(read), d, tableExists)}
	s.Store = sqlstore.New(sqlstore.DatabaseSQL(stmts), d, backend{s})
	return s, nil
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
// older than the newest embedded migration.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return firewall.Unavailable(err)
	}
	return s.CheckCurrent(ctx)
}

// backend runs the store's transactions: writes on the writer connection,
// whose IMMEDIATE transactions hold the database's write lock from the
// start, and reads in a WAL snapshot on a reader.
type backend struct{ s *Store }

// InWriteTx runs fn in a transaction on the writer connection. A failed
// statement leaves an SQLite transaction usable, so it explains itself.
func (b backend) InWriteTx(ctx context.Context, fn func(tx, explain sqlstore.Conn) error) error {
	return b.inTx(ctx, b.s.writeStmts, func(tx sqlstore.Conn) error { return fn(tx, tx) })
}

// InReadTx runs fn in a read transaction: WAL gives it a snapshot, so no
// write can slip in between its queries.
func (b backend) InReadTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	return b.inTx(ctx, b.s.stmts, fn)
}

// inTx runs fn in a transaction on the pool of stmts, through its prepared
// statements.
func (b backend) inTx(ctx context.Context, stmts *stmtCache, fn func(tx sqlstore.Conn) error) error {
	stmts.prepareWanted(ctx)
	sqlTx, err := stmts.db.BeginTx(ctx, nil)
	if err != nil {
		return b.s.d.Classify(err, "begin transaction")
	}
	// After a commit this is a no-op; it matters when fn fails or panics.
	defer func() { _ = sqlTx.Rollback() }()
	if err := fn(sqlstore.DatabaseSQL(stmts.inTx(sqlTx))); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return b.s.d.Classify(err, "commit transaction")
	}
	return nil
}
