package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStatements bounds the statement cache. Reads use a handful of
// statement shapes; the bound only matters once user filters vary the SQL.
const maxCachedStatements = 256

// stmtCache runs queries on a pool through prepared statements, kept by
// their SQL text. Parsing a statement costs about as much as running a
// point query, so reusing them roughly halves the cost of a GET.
//
// Transactions use the statements too (see inTx), but cannot prepare new
// ones: preparing on the pool while a transaction holds a connection may
// wait for that very connection, which on the writer pool of one is
// forever. A transaction therefore runs an unknown statement unprepared
// and leaves it wanted, and the pool prepares the wanted statements before
// its next transaction begins.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
	// wanted holds statements transactions ran unprepared, under mu.
	wanted map[string]struct{}
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]struct{}{}}
}

// stmt returns the prepared statement for query, or nil if it cannot be
// prepared or the cache is full; callers then run the query unprepared,
// which reports any error in the usual way.
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	st, done := c.m[query]
	c.mu.RUnlock()
	if done {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, done := c.m[query]; done {
		return st
	}
	if len(c.m) >= maxCachedStatements {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		if ctx.Err() == nil {
			c.m[query] = nil // it does not prepare: do not try again
		}
		return nil
	}
	c.m[query] = st
	return st
}

// prepared returns the statement for query if it is prepared already, and
// otherwise marks it wanted and returns nil. It never waits for a
// connection.
func (c *stmtCache) prepared(query string) *sql.Stmt {
	c.mu.RLock()
	st, done := c.m[query]
	_, asked := c.wanted[query]
	c.mu.RUnlock()
	if done || asked {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, done := c.m[query]; !done && len(c.m)+len(c.wanted) < maxCachedStatements {
		c.wanted[query] = struct{}{}
	}
	return nil
}

// prepareWanted prepares the statements transactions asked for. The
// caller holds no connection of the pool. A statement that fails to
// prepare is kept as nil, so that it is not tried again.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.RLock()
	n := len(c.wanted)
	c.mu.RUnlock()
	if n == 0 {
		return
	}
	c.mu.Lock()
	queries := make([]string, 0, len(c.wanted))
	for q := range c.wanted {
		queries = append(queries, q)
	}
	c.mu.Unlock()
	// Preparing waits for a connection, so it runs without the lock, which
	// a transaction holding the connection may need meanwhile.
	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil && ctx.Err() != nil {
			return // the statement stays wanted
		}
		c.mu.Lock()
		delete(c.wanted, q)
		if _, done := c.m[q]; !done {
			c.m[q] = st // nil if the statement does not prepare
		} else if st != nil {
			_ = st.Close() // prepared meanwhile by stmt
		}
		c.mu.Unlock()
	}
}

// inTx returns a querier that runs tx's statements through the cache.
func (c *stmtCache) inTx(tx *sql.Tx) *txStmts { return &txStmts{tx: tx, c: c} }

// txStmts runs a transaction's statements through the cache's prepared
// statements, bound to the transaction's connection.
//
// One prepared statement is one SQLite statement handle on the
// connection, so a statement whose rows are open must not run again
// before they close. Exec and QueryRow are done with the handle when the
// caller has their result; a statement whose rows were queried in this
// transaction runs unprepared from then on, as the rows may still be open.
type txStmts struct {
	tx      *sql.Tx
	c       *stmtCache
	queried map[string]bool
}

// prepared returns the prepared statement for query, bound to the
// transaction, or nil to run it unprepared.
func (t *txStmts) prepared(ctx context.Context, query string) *sql.Stmt {
	if t.queried[query] {
		return nil
	}
	if st := t.c.prepared(query); st != nil {
		return t.tx.StmtContext(ctx, st)
	}
	return nil
}

// ExecContext runs a statement that returns no rows.
func (t *txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.prepared(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a query that returns rows.
func (t *txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st := t.prepared(ctx, query)
	if t.queried == nil {
		t.queried = map[string]bool{}
	}
	t.queried[query] = true
	if st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (t *txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// ExecContext runs a statement that returns no rows.
func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.db.ExecContext(ctx, query, args...)
}

// QueryContext runs a query that returns rows.
func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.db.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a query that returns at most one row.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, query, args...)
}

// Close closes every cached statement.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		if st != nil {
			_ = st.Close() // closing the pool next releases everything anyway
		}
		delete(c.m, q)
	}
	return nil
}
