package filter

import (
	"strconv"

	"go.einride.tech/aip/filtering"
)

// rankCompare emits "rank op n" for a ranked field, as a comparison of its
// key with the key of the row at rank n. Ranks are 1..count, so a rank
// outside them compares as a number would: position < 1000 holds for
// every row of a policy of ten, and position = 0 for none. The result is
// never NULL, so that NOT inverts it exactly.
func rankCompare(f *Field, op string, n int64) cond {
	col := f.Column
	always := func(v bool) cond {
		return func(*Builder) string {
			if v {
				return "1 = 1"
			}
			return "1 = 0"
		}
	}
	// below says what rank op n is for a rank below 1, and beyond for a
	// rank n past the last row (whose key subquery is NULL).
	var sqlOp string
	var below, beyond bool
	switch op {
	case filtering.FunctionEquals:
		sqlOp, below, beyond = "=", false, false
	case filtering.FunctionNotEquals:
		sqlOp, below, beyond = "<>", true, true
	case filtering.FunctionLessThan:
		if n <= 1 {
			return always(false)
		}
		sqlOp, beyond = "<", true
	case filtering.FunctionLessEquals:
		sqlOp, below, beyond = "<=", false, true
	case filtering.FunctionGreaterThan:
		sqlOp, below, beyond = ">", true, false
	case filtering.FunctionGreaterEquals:
		if n <= 1 {
			return always(true)
		}
		sqlOp, beyond = ">=", false
	}
	if n < 1 {
		return always(below)
	}
	return func(b *Builder) string {
		return "COALESCE(" + col + " " + sqlOp + " " + f.Rank.keyAt(b, n) + ", " + strconv.FormatBool(beyond) + ")"
	}
}

// keyAt emits the subquery whose value is the key of the row at rank n of
// the scope, or NULL if the scope has fewer rows.
func (r *Rank) keyAt(b *Builder, n int64) string {
	scope := r.Table + "." + r.Scope
	if b.hasScope {
		scope = b.Arg(b.scope)
	}
	return "(SELECT k." + r.Key + " FROM " + r.Table + " k WHERE k." + r.Scope + " = " + scope +
		" ORDER BY k." + r.Key + " LIMIT 1 OFFSET " + b.Arg(n-1) + ")"
}
