package filter

import (
	"strconv"
	"strings"

	"go.einride.tech/aip/filtering"
)

// This file emits the SQL of the conditions that terms.go checks: plain
// comparisons, wildcard string matches, presence tests and rank
// comparisons. Values are always bound through the Builder.

// compare emits "col op value". Strings compared with = or != match
// wildcards; nullable columns compare false with NULL, so NOT inverts them.
func compare(col string, k Kind, nullable bool, op string, v any) cond {
	if s, ok := v.(string); ok && k == KindString && (op == filtering.FunctionEquals || op == filtering.FunctionNotEquals) {
		match := func(b *Builder) string { return stringMatch(b, col, s) }
		if op == filtering.FunctionNotEquals {
			return func(b *Builder) string { return "NOT (" + match(b) + ")" }
		}
		return match
	}
	sqlOp := op
	if op == filtering.FunctionNotEquals {
		sqlOp = "<>"
	}
	return func(b *Builder) string {
		lhs := col
		if isOrdering(op) {
			lhs = b.collate(col, k)
		}
		s := lhs + " " + sqlOp + " " + b.Arg(v)
		if nullable {
			return "COALESCE(" + s + ", FALSE)"
		}
		return s
	}
}

// stringMatch emits equality with the value, where a leading or trailing
// * matches any text. A lone * matches everything.
func stringMatch(b *Builder, col, pattern string) string {
	prefix := strings.HasSuffix(pattern, "*")
	suffix := strings.HasPrefix(pattern, "*")
	core := strings.TrimSuffix(strings.TrimPrefix(pattern, "*"), "*")
	switch {
	case pattern == "*" || (prefix && suffix && core == ""):
		return col + " = " + col
	case prefix && suffix:
		return b.containsMatch(col, core)
	case prefix:
		return b.prefixMatch(col, core)
	case suffix:
		return b.suffixMatch(col, core)
	}
	return col + " = " + b.Arg(pattern)
}

// present emits "the field has a value": a non-empty string, list or map,
// or a set timestamp.
func present(f *Field) cond {
	col := f.Column
	switch f.Kind {
	case KindLabels:
		return func(b *Builder) string { return b.labelsNonEmpty(col) }
	case KindStrings:
		return func(b *Builder) string { return b.jsonArrayNonEmpty(col) }
	case KindPrefixes:
		side := f.Side
		return func(b *Builder) string { return anyAddress(b, side) }
	case KindPorts:
		side := f.Side
		return func(b *Builder) string { return anyPort(b, side) }
	case KindGroups:
		side := f.Side
		return func(b *Builder) string { return "EXISTS (" + groupRefs(b, side) + " AND x.rule_id = rules.id)" }
	case KindString:
		return func(b *Builder) string { return col + " <> ''" }
	}
	return func(b *Builder) string { return col + " IS NOT NULL" }
}

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
