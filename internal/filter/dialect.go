package filter

import (
	"strconv"
	"strings"
	"time"
)

// Dialect is the SQL flavour a statement is built for. The two differ in
// placeholders, in how timestamps are stored, and in string functions.
type Dialect struct {
	name string
	// numbered placeholders ($1, $2 ...) rather than ?.
	numbered bool
	// microTimes stores timestamps as integer unix microseconds rather than
	// as a timestamp type.
	microTimes bool
}

// The supported dialects.
var (
	// SQLite binds with ?, stores times as unix microseconds, labels and
	// audit roles as JSON text.
	SQLite = Dialect{name: "sqlite", microTimes: true}
	// Postgres binds with $n, stores times as timestamptz, labels and audit
	// roles as jsonb.
	Postgres = Dialect{name: "postgres", numbered: true}
)

// String names the dialect.
func (d Dialect) String() string { return d.name }

// Builder accumulates the bound arguments of one statement and hands out
// their placeholders, so that the parts of a statement (fixed conditions,
// filter, keyset condition, limit) number them consistently.
type Builder struct {
	d    Dialect
	args []any
	// scope is the value of a ranked field's scope column, if the
	// statement selects one scope (see Scope).
	scope    any
	hasScope bool
}

// Scope tells ranked fields (a rule's position) that the statement reads
// one scope, whose column holds v: the rank subqueries then bind it and
// run once, instead of once per row.
func (b *Builder) Scope(v any) {
	b.scope, b.hasScope = v, true
}

// NewBuilder returns an empty builder for d.
func NewBuilder(d Dialect) *Builder { return &Builder{d: d} }

// Arg binds v and returns its placeholder. Times are converted to the
// dialect's storage form.
func (b *Builder) Arg(v any) string {
	if t, ok := v.(time.Time); ok {
		v = b.d.timeArg(t)
	}
	b.args = append(b.args, v)
	if b.d.numbered {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

// Args returns the arguments bound so far, in placeholder order.
func (b *Builder) Args() []any { return b.args }

// Dialect returns the builder's dialect.
func (b *Builder) Dialect() Dialect { return b.d }

func (d Dialect) timeArg(t time.Time) any {
	if d.microTimes {
		return t.UnixMicro()
	}
	return t.UTC()
}

// prefixMatch is SQL true when col starts with the bound text.
func (b *Builder) prefixMatch(col, text string) string {
	n := b.Arg(int64(len([]rune(text))))
	if b.d.numbered {
		return "left(" + col + ", " + n + ") = " + b.Arg(text)
	}
	return "substr(" + col + ", 1, " + n + ") = " + b.Arg(text)
}

// suffixMatch is SQL true when col ends with the bound text.
func (b *Builder) suffixMatch(col, text string) string {
	n := b.Arg(int64(len([]rune(text))))
	if b.d.numbered {
		return "right(" + col + ", " + n + ") = " + b.Arg(text)
	}
	// substr with a negative start counts from the end; it returns the
	// whole string when that is shorter, which then cannot be equal.
	return "substr(" + col + ", -" + n + ") = " + b.Arg(text)
}

// containsMatch is SQL true when col contains the bound text.
func (b *Builder) containsMatch(col, text string) string {
	if b.d.numbered {
		return "strpos(" + col + ", " + b.Arg(text) + ") > 0"
	}
	return "instr(" + col + ", " + b.Arg(text) + ") > 0"
}

// collate makes string order bytewise in PostgreSQL, as it is in SQLite,
// whatever the database's default collation. Id columns are left alone, so
// that the primary and foreign key indexes serve the id tie-breaker: they
// are text holding UUIDv7s (lower-case hex at fixed places), which every
// usual collation orders as bytewise, and the keyset condition compares
// them under the same collation as the ORDER BY.
func (b *Builder) collate(col string, k Kind) string {
	if b.d.numbered && (k == KindString || k == KindEnum) && !strings.HasSuffix(col, "id") {
		return col + ` COLLATE "C"`
	}
	return col
}

// labelHasKey is SQL true when the JSON object in col has key.
func (b *Builder) labelHasKey(col, key string) string {
	if b.d.numbered {
		return "(" + col + " ->> " + b.Arg(key) + ") IS NOT NULL"
	}
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE key = " + b.Arg(key) + ")"
}

// labelMatch is SQL true when the JSON object in col has key with a value
// that match accepts. It is never NULL, so that NOT inverts it exactly.
func (b *Builder) labelMatch(col, key string, match func(value string) string) string {
	if b.d.numbered {
		return "COALESCE(" + match("("+col+" ->> "+b.Arg(key)+")") + ", FALSE)"
	}
	k := b.Arg(key)
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE key = " + k + " AND " + match("value") + ")"
}

// labelsNonEmpty is SQL true when the JSON object in col has any key.
func (b *Builder) labelsNonEmpty(col string) string {
	if b.d.numbered {
		return col + " <> '{}'::jsonb"
	}
	return "EXISTS (SELECT 1 FROM json_each(" + col + "))"
}

// jsonArrayHas is SQL true when the JSON array of strings in col holds v.
func (b *Builder) jsonArrayHas(col, v string) string {
	if b.d.numbered {
		return col + " @> jsonb_build_array(" + b.Arg(v) + "::text)"
	}
	return "EXISTS (SELECT 1 FROM json_each(" + col + ") WHERE value = " + b.Arg(v) + ")"
}

// jsonArrayNonEmpty is SQL true when the JSON array in col has an element.
func (b *Builder) jsonArrayNonEmpty(col string) string {
	if b.d.numbered {
		return "jsonb_array_length(" + col + ") > 0"
	}
	return "json_array_length(" + col + ") > 0"
}
