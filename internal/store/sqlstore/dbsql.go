package sqlstore

import (
	"context"
	"database/sql"
	"errors"
)

// SQLQuerier is what a database/sql pool, transaction or statement cache
// offers.
type SQLQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DatabaseSQL adapts a database/sql querier to Conn.
func DatabaseSQL(q SQLQuerier) Conn { return dbConn{q} }

type dbConn struct{ q SQLQuerier }

func (c dbConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	// Both drivers know the count, so RowsAffected has no error to report.
	n, _ := res.RowsAffected()
	return n, nil
}

func (c dbConn) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := c.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return dbRows{rows}, nil
}

func (c dbConn) QueryRow(ctx context.Context, query string, args ...any) Row {
	return dbRow{c.q.QueryRowContext(ctx, query, args...)}
}

type dbRows struct{ *sql.Rows }

// Close closes the rows; an error closing them shows in Err.
func (r dbRows) Close() { _ = r.Rows.Close() }

type dbRow struct{ r *sql.Row }

func (r dbRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoRows
	}
	return err
}
