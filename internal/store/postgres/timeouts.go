package postgres

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Timeouts bound every call to PostgreSQL, so that a database that stops
// answering (a frozen server, a lost network) turns into errors within a
// known time, which the API answers with 503, instead of requests that
// hang until the client gives up. A zero field turns its bound off.
type Timeouts struct {
	// Acquire bounds the wait for a pooled connection, including the ping
	// pgxpool sends on a connection idle for over a second.
	Acquire time.Duration
	// Statement is the server's statement_timeout and lock_timeout. The
	// client also gives up on a statement a second after it (statementGrace),
	// for a server too stuck to enforce its own timeout; pgx then closes the
	// connection, and the server rolls back whatever it had open.
	Statement time.Duration
	// IdleInTransaction is the server's idle_in_transaction_session_timeout:
	// a transaction left open by a client that stopped talking is rolled
	// back rather than holding its locks.
	IdleInTransaction time.Duration
	// TCP is the TCP user timeout of each connection (how long sent data
	// may stay unacknowledged), and the time after which keepalive probes
	// declare a silent peer dead.
	TCP time.Duration
}

// The SQLSTATEs of the server-side timeouts: statement_timeout (or a
// cancel request), lock_timeout and idle_in_transaction_session_timeout.
const (
	queryCanceled            = "57014"
	lockNotAvailable         = "55P03"
	idleInTransactionTimeout = "25P03"
)

// timedOut reports whether code says a timeout ended the statement: the
// database is stuck or overloaded, and the client should retry later.
func timedOut(code string) bool {
	return code == queryCanceled || code == lockNotAvailable || code == idleInTransactionTimeout
}

// statementGrace is how much longer than the server's statement_timeout the
// client waits, so that the server's own, cleaner error comes first.
const statementGrace = time.Second

// Option changes how Open connects.
type Option func(*pgxpool.Config)

// WithTimeouts bounds the database calls by t. Settings the database URL
// gives itself (statement_timeout=..., options=...) win over t's.
func WithTimeouts(t Timeouts) Option {
	return func(cfg *pgxpool.Config) { applyTimeouts(cfg, t) }
}

func applyTimeouts(cfg *pgxpool.Config, t Timeouts) {
	params := cfg.ConnConfig.RuntimeParams
	setParam := func(name string, d time.Duration) {
		if _, given := params[name]; given || d <= 0 {
			return
		}
		params[name] = strconv.FormatInt(d.Milliseconds(), 10)
	}
	setParam("statement_timeout", t.Statement)
	setParam("lock_timeout", t.Statement)
	setParam("idle_in_transaction_session_timeout", t.IdleInTransaction)
	if t.TCP > 0 {
		cfg.ConnConfig.DialFunc = tcpDialer(t.TCP).DialContext
	}
	var statement time.Duration
	if t.Statement > 0 {
		statement = t.Statement + statementGrace
	}
	if t.Acquire > 0 || statement > 0 {
		cfg.ConnConfig.Tracer = deadlines{acquire: t.Acquire, statement: statement}
	}
}

// tcpDialer dials with keepalive probes that declare a silent peer dead
// after about d, and a TCP user timeout of d where the system has one.
func tcpDialer(d time.Duration) *net.Dialer {
	probe := max(d/3, time.Second)
	return &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: probe, Interval: probe, Count: 2},
		Control:         userTimeout(d),
	}
}

// deadlines puts a deadline on each pool acquire and each statement, through
// pgx's tracer hooks: pgx runs the call under the context the hook returns.
// It is the only place that sees every call, whatever code sends it.
type deadlines struct {
	acquire, statement time.Duration
}

// cancelKey holds the cancel function of a deadline the hooks set.
type cancelKey struct{}

func bound(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return context.WithValue(ctx, cancelKey{}, cancel)
}

// release stops the timer of the deadline bound set on ctx, if any.
func release(ctx context.Context) {
	if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}

func (d deadlines) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return bound(ctx, d.statement)
}

func (d deadlines) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	release(ctx)
}

func (d deadlines) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return bound(ctx, d.statement)
}

func (d deadlines) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (d deadlines) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	release(ctx)
}

func (d deadlines) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	return bound(ctx, d.acquire)
}

func (d deadlines) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	release(ctx)
}
