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
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"github.com/fireflow/fireflow/internal/store"
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
	reader
	pool       *pgxpool.Pool
	migrations *goose.Provider
	closeSQL   func() error
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
	provider, closeSQL, err := newMigrationProvider(pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{reader: reader{q: pool}, pool: pool, migrations: provider, closeSQL: closeSQL}, nil
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
// older than the newest embedded migration. A newer schema is accepted, so
// that the old version keeps serving while a rolling upgrade runs.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return classify(err, "ping database")
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

// Update runs fn in a READ COMMITTED transaction, and runs it again, up to
// maxUpdateAttempts times in all, after a serialisation failure or deadlock.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.updateOnce(ctx, fn)
		if !retryable(err) || attempt == maxUpdateAttempts {
			return err
		}
		// A short, growing pause lets the transaction that won finish.
		select {
		case <-ctx.Done():
			return classify(ctx.Err(), "retry transaction")
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
	}
}

func (s *Store) updateOnce(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return classify(err, "begin transaction")
	}
	// After a commit this is a no-op; it matters when fn fails or panics.
	defer func() { _ = pgTx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(ctx, &tx{reader: reader{q: pgTx}, pool: s.pool}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return classify(err, "commit transaction")
	}
	return nil
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// reader implements store.Reader on the pool or inside a transaction.
type reader struct {
	q querier
}

// tx implements store.Tx.
type tx struct {
	reader
	// pool reads what explains a failed statement: once a statement fails,
	// PostgreSQL refuses every further statement of the transaction.
	pool *pgxpool.Pool
}

var _ store.Tx = (*tx)(nil)

// explain returns a reader for the lookups that follow a failed statement.
func (t *tx) explain() reader { return reader{q: t.pool} }
