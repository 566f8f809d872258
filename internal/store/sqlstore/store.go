package sqlstore

import (
	"context"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// Backend runs transactions the way its engine needs: SQLite on its one
// writer connection, PostgreSQL with retries after serialisation failures.
type Backend interface {
	// InWriteTx runs fn in a read-write transaction, committing if it
	// returns nil. explain reads what explains a failed statement: the
	// transaction itself where a failed statement leaves it usable, the
	// pool where it does not (PostgreSQL).
	InWriteTx(ctx context.Context, fn func(tx, explain Conn) error) error
	// InReadTx runs fn in a read-only transaction on one snapshot.
	InReadTx(ctx context.Context, fn func(tx Conn) error) error
}

// Store implements the reads, Update and LoadTree of store.Store over a
// Backend; the engine packages add Ready and Close.
type Store struct {
	Reader
	backend   Backend
	d         Dialect
	retention firewall.Retention
}

// New returns a Store that reads through pool and runs transactions
// through backend.
func New(pool Conn, d Dialect, backend Backend) *Store {
	return &Store{Reader: NewReader(pool, d), backend: backend, d: d}
}

// SetRetention says which revisions the store keeps; writes prune the
// rest. The zero value keeps every revision.
func (s *Store) SetRetention(r firewall.Retention) { s.retention = r }

// Update runs fn in a read-write transaction of the backend.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.backend.InWriteTx(ctx, func(c, explain Conn) error {
		tx := NewTx(c, explain, s.d)
		tx.hist.retention = s.retention
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return tx.flushHistory(ctx)
	})
}

// LoadTree reads a firewall's tree in one read transaction, whose snapshot
// keeps a write from slipping in between the three queries.
func (s *Store) LoadTree(ctx context.Context, firewallID string) (store.Tree, error) {
	var t store.Tree
	err := s.backend.InReadTx(ctx, func(c Conn) error {
		var err error
		t, err = NewReader(c, s.d).loadTree(ctx, firewallID)
		return err
	})
	return t, err
}

// Reader implements store.Reader on a pool or inside a transaction.
type Reader struct {
	q conn
}

// NewReader returns a Reader over c.
func NewReader(c Conn, d Dialect) Reader { return Reader{q: conn{c: c, d: d}} }

func (r Reader) classify(err error, format string, args ...any) error {
	return r.q.d.classify(err, format, args...)
}

// Tx implements store.Tx inside a read-write transaction.
type Tx struct {
	Reader
	// explain reads what explains a failed statement (see Backend).
	explain Reader
	// hist is what the transaction changed, to be versioned (history.go).
	hist *history
}

// NewTx returns a Tx over the transaction c; explain is as Backend says.
func NewTx(c, explain Conn, d Dialect) *Tx {
	return &Tx{Reader: NewReader(c, d), explain: NewReader(explain, d), hist: newHistory()}
}

var _ store.Tx = (*Tx)(nil)
