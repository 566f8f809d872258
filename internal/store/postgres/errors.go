package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

// SQLSTATE codes the store acts on; see
// https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	uniqueViolation      = "23505"
	foreignKeyViolation  = "23503"
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// dialect is PostgreSQL's sqlstore.Dialect: $n placeholders, timestamptz,
// row locks (FOR UPDATE), an advisory lock per idempotency key, and one
// unnest insert per child table of a rule.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Filter:      filter.Postgres,
		Numbered:    true,
		Time:        func(t time.Time) any { return t },
		Unique:      violates,
		ForeignKey:  isForeignKey,
		Unavailable: unavailable,
		ForUpdate:   " FOR UPDATE",
		LockKey:     `SELECT pg_advisory_xact_lock(hashtextextended(?, 0))`,
		IndexRows:   indexRows,
	}.Prepare()
}

// unavailable reports whether err means that the server could not be
// reached or went away, as opposed to refusing the statement.
func unavailable(err error) bool {
	if code := sqlState(err); code != "" {
		if timedOut(code) {
			return true
		}
		switch {
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "53"),  // insufficient resources, such as too many connections
			strings.HasPrefix(code, "57P"): // admin or crash shutdown, cannot connect now
			return true
		}
		return false
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	return errors.As(err, &netErr) || errors.As(err, &connectErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, puddle.ErrClosedPool) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// sqlState returns the SQLSTATE of a server error, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// violates reports whether err is a uniqueness violation of c, by name.
func violates(err error, c sqlstore.Constraint) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == uniqueViolation && pe.ConstraintName == c.Name
}

func isForeignKey(err error) bool { return sqlState(err) == foreignKeyViolation }

// retryable reports whether a transaction that failed with err may succeed
// when run again.
func retryable(err error) bool {
	code := sqlState(err)
	return code == serializationFailure || code == deadlockDetected
}
