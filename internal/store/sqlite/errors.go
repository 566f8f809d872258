package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/store/sqlstore"
)

// dialect is SQLite's sqlstore.Dialect: ? placeholders, times as unix
// microseconds (integers compare and index cheaply, and the service
// already truncates to microseconds), and the IMMEDIATE transaction for a
// lock.
func dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Filter:      filter.SQLite,
		Time:        func(t time.Time) any { return t.UnixMicro() },
		Unique:      uniqueOn,
		ForeignKey:  isForeignKey,
		Unavailable: unavailable,
	}.Prepare()
}

func unavailable(err error) bool {
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	// database/sql does not export the error it returns after Close.
	if strings.Contains(err.Error(), "sql: database is closed") {
		return true
	}
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}

// sqliteCode returns the extended result code of err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// uniqueOn reports whether err is a uniqueness violation of c. SQLite names
// the columns of the violated index in the message ("UNIQUE constraint
// failed: policies.firewall_id, policies.priority"); the format has been
// stable for a decade.
func uniqueOn(err error, c sqlstore.Constraint) bool {
	code := sqliteCode(err)
	if code != sqlite3.SQLITE_CONSTRAINT_UNIQUE && code != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return false
	}
	return strings.Contains(err.Error(), c.Table+"."+c.Column)
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
