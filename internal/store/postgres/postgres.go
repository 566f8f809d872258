// Package postgres implements store.Store on PostgreSQL, using a pgx v5
// connection pool and embedded goose migrations.
//
// Many FireFlow replicas may share one database. Transactions run at READ
// COMMITTED; every change to a firewall's tree first locks the firewall row
// (SELECT ... FOR UPDATE), so that changes to one tree serialise across
// processes while changes to different trees run side by side.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

// Defaults applied when the database URL does not set them. They keep a
// lost database from hanging requests: a connection attempt gives up after
// connectTimeout, and idle connections are checked every healthCheckPeriod
// (and pgxpool pings any connection idle for over a second before use).
const (
	connectTimeout    = 3 * time.Second
	healthCheckPeriod = 5 * time.Second
	// maxUpdateAttempts bounds the retries of a transaction that failed
	// with a serialisation failure or a deadlock.
	maxUpdateAttempts = 5
)

// Store is a FireFlow database on PostgreSQL.
type Store struct {
	*sqlstore.Store
	sqlstore.Schema
	pool       *pgxpool.Pool
	migrations *goose.Provider
	closeSQL   func() error
	d          sqlstore.Dialect
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...). It does not
// migrate; call Migrate for that. Open does not fail when the server is
// down: the pool connects lazily, and Ready reports the state.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres database: %w", err)
	}
	d := dialect()
	provider, closeSQL, err := newMigrationProvider(pool, d)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, migrations: provider, closeSQL: closeSQL, d: d,
		Schema: sqlstore.NewSchema(provider, pgxConn{pool}, d, tableExists)}
	s.Store = sqlstore.New(pgxConn{pool}, d, backend{s})
	return s, nil
}

// poolConfig parses url and fills in the defaults it leaves open.
func poolConfig(raw string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(raw)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("open postgres database: the database URL does not parse; see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS")
	}
	params := url.Values{}
	if u, err := url.Parse(raw); err == nil {
		params = u.Query()
	}
	if !params.Has("connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if !params.Has("pool_health_check_period") {
		cfg.HealthCheckPeriod = healthCheckPeriod
	}
	if !params.Has("pool_max_conns") {
		// Requests hold a connection only for their queries, so a few per
		// core keep the CPUs busy while others wait on the network.
		cfg.MaxConns = int32(max(8, 4*runtime.GOMAXPROCS(0)))
	}
	return cfg, nil
}

// Pool returns the connection pool, so that its statistics can be exported
// as metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the pool.
func (s *Store) Close() error {
	err := s.closeSQL()
	s.pool.Close()
	return err
}

// Ready reports an error if the database does not answer or its schema is
// older than the newest embedded migration.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return s.d.Classify(err, "ping database")
	}
	return s.CheckCurrent(ctx)
}

// backend runs the store's transactions on the pool.
type backend struct{ s *Store }

// InWriteTx runs fn in a READ COMMITTED transaction, and runs it again, up
// to maxUpdateAttempts times in all, after a serialisation failure or
// deadlock. Once a statement fails, PostgreSQL refuses every further
// statement of the transaction, so what explains a failure is read from
// the pool.
func (b backend) InWriteTx(ctx context.Context, fn func(tx, explain sqlstore.Conn) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = b.inTx(ctx, pgx.TxOptions{}, func(tx sqlstore.Conn) error { return fn(tx, pgxConn{b.s.pool}) })
		if !retryable(err) || attempt == maxUpdateAttempts {
			return err
		}
		// A short, growing pause lets the transaction that won finish.
		select {
		case <-ctx.Done():
			return b.s.d.Classify(ctx.Err(), "retry transaction")
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
	}
}

// InReadTx runs fn in a REPEATABLE READ transaction, whose snapshot keeps a
// write from slipping in between its queries.
func (b backend) InReadTx(ctx context.Context, fn func(tx sqlstore.Conn) error) error {
	return b.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (b backend) inTx(ctx context.Context, opts pgx.TxOptions, fn func(tx sqlstore.Conn) error) error {
	pgTx, err := b.s.pool.BeginTx(ctx, opts)
	if err != nil {
		return b.s.d.Classify(err, "begin transaction")
	}
	// After a commit this is a no-op; it matters when fn fails or panics.
	defer func() { _ = pgTx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(pgxConn{pgTx}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return b.s.d.Classify(err, "commit transaction")
	}
	return nil
}
