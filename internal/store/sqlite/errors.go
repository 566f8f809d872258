package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fireflow/fireflow/internal/firewall"
)

// classify wraps err with what was being done, and marks it unavailable when
// it says the database cannot be reached rather than that the request is
// wrong, so that the API answers 503 and the client retries.
func classify(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var fe *firewall.Error
	if errors.As(err, &fe) {
		return err
	}
	wrapped := fmt.Errorf(format+": %w", append(args, err)...)
	if unavailable(err) {
		return firewall.Unavailable(wrapped)
	}
	return wrapped
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

// uniqueOn reports whether err is a uniqueness violation involving
// table.column. SQLite names the columns of the violated index in the
// message ("UNIQUE constraint failed: policies.firewall_id,
// policies.priority"); the format has been stable for a decade.
func uniqueOn(err error, table, column string) bool {
	code := sqliteCode(err)
	if code != sqlite3.SQLITE_CONSTRAINT_UNIQUE && code != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return false
	}
	return strings.Contains(err.Error(), table+"."+column)
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
