// Package sqlstore is the one SQL implementation of the store contract:
// firewalls, policies, rules, tree loading, audit, idempotency and the
// rule-index backfill, written once against a small connection interface
// (Conn) and a Dialect. The sqlite and postgres packages open the database,
// run the transactions, migrate and classify their engine's errors; what
// they hand over here is a Conn and a Dialect.
//
// Statements are written with ? placeholders; a numbered dialect rewrites
// them to $1, $2 ... once per statement text.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

// ErrNoRows is what Row.Scan returns when the query found no row. The
// adapters translate their driver's own sentinel to it.
var ErrNoRows = errors.New("sqlstore: no rows in result set")

// Conn runs statements: a pool or a transaction, of database/sql or pgx.
type Conn interface {
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a statement that returns rows; the caller closes them.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow runs a statement that returns at most one row.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Batcher is a Conn that sends several statements in one round trip.
type Batcher interface {
	// Batch runs the statements in order and returns the first error.
	Batch(ctx context.Context, stmts []Statement) error
}

// Statement is one statement and its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// Rows is a result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is one row of a result, or the error that kept it from being read.
type Row interface {
	Scan(dest ...any) error
}

// Constraint names a uniqueness constraint both ways an engine reports it:
// by table and leading column (SQLite's message) and by name (PostgreSQL).
type Constraint struct {
	Table, Column, Name string
}

// Dialect is what differs between the engines, beside the Conn.
type Dialect struct {
	// Filter is the internal/filter dialect list statements are built for;
	// it also says whether placeholders are numbered.
	Filter filter.Dialect
	// Time converts a timestamp to the value bound for it. Scanning takes
	// either representation (see timeScan).
	Time func(time.Time) any
	// Unique reports whether err violates c.
	Unique func(err error, c Constraint) bool
	// ForeignKey reports whether err is a foreign-key violation.
	ForeignKey func(err error) bool
	// Unavailable reports whether err means that the database cannot be
	// reached, rather than that the request is wrong.
	Unavailable func(err error) bool
	// ForUpdate is appended to LockFirewall's read: " FOR UPDATE" where
	// rows are locked, "" where the transaction already holds the lock.
	ForUpdate string
	// LockKey, if set, is run with an idempotency key before the key is
	// read, to make concurrent requests with the key take turns.
	LockKey string
	// IndexRows, if set, returns the statements that insert a rule's
	// rule_addresses and rule_ports rows, in place of one INSERT per row.
	IndexRows func(r *firewall.Rule) []Statement
	// Numbered dialects take $n placeholders.
	Numbered bool

	rebound *sync.Map
}

// Prepare returns d ready for use; call it once per dialect.
func (d Dialect) Prepare() Dialect {
	d.rebound = &sync.Map{}
	return d
}

// bind returns query with its ? placeholders numbered if the dialect wants
// it. Statements from filter.Builder are numbered already and have no ?.
func (d Dialect) bind(query string) string {
	if !d.Numbered || !strings.Contains(query, "?") {
		return query
	}
	if q, ok := d.rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	d.rebound.Store(query, b.String())
	return b.String()
}

// classify wraps err with what was being done, and marks it unavailable when
// it says the database cannot be reached rather than that the request is
// wrong, so that the API answers 503 and the client retries.
func (d Dialect) classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var fe *firewall.Error
	if errors.As(err, &fe) {
		return err
	}
	wrapped := fmt.Errorf(format+": %w", append(args, err)...)
	if d.Unavailable(err) {
		return firewall.Unavailable(wrapped)
	}
	return wrapped
}

// Classify is classify for the engine packages: it wraps err with what was
// being done and marks an outage as firewall.CodeUnavailable.
func (d Dialect) Classify(err error, format string, args ...any) error {
	return d.classify(err, format, args...)
}

// conn binds placeholders for the dialect on the way through.
type conn struct {
	c Conn
	d Dialect
}

func (c conn) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return c.c.Exec(ctx, c.d.bind(query), args...)
}

func (c conn) query(ctx context.Context, query string, args ...any) (Rows, error) {
	return c.c.Query(ctx, c.d.bind(query), args...)
}

func (c conn) queryRow(ctx context.Context, query string, args ...any) Row {
	return c.c.QueryRow(ctx, c.d.bind(query), args...)
}

// run runs the statements, in one round trip where the Conn can.
func (c conn) run(ctx context.Context, stmts []Statement) error {
	if b, ok := c.c.(Batcher); ok && len(stmts) > 1 {
		bound := make([]Statement, len(stmts))
		for i, s := range stmts {
			bound[i] = Statement{SQL: c.d.bind(s.SQL), Args: s.Args}
		}
		return b.Batch(ctx, bound)
	}
	for _, s := range stmts {
		if _, err := c.exec(ctx, s.SQL, s.Args...); err != nil {
			return err
		}
	}
	return nil
}

// errNoRoom says that a policy's order keys ran out, which takes some 2^30
// rules at one end.
var errNoRoom = errors.New("no order key is left between the neighbouring rules")
