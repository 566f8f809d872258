package postgres

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/store"
)

// sortKey is one term of a list's ORDER BY.
type sortKey struct {
	column string
	desc   bool
}

// listQuery is a list statement kept in parts, so that a filter can add
// conditions and an order_by can replace the order without editing SQL text.
// Every value travels as a bound argument; conditions write their
// placeholders as "?", which sql numbers $1, $2 ... in order.
type listQuery[T any] struct {
	columns string
	from    string
	where   []string
	args    []any
	// order must end with a unique column, so that the order is total and a
	// cursor names exactly one place in it.
	order []sortKey
	// scan reads one row selected by columns.
	scan func(pgx.Row) (T, error)
	// cursor returns the sort key values of an item, in the order of order.
	cursor func(T) store.Cursor
	// values returns a cursor's sort key values, in the order of order.
	values func(store.Cursor) []any
}

// page runs the query for one page. It fetches one extra row to learn
// whether another page follows without a second query.
func (l listQuery[T]) page(ctx context.Context, q querier, in store.Query) (store.Page[T], error) {
	size := store.PageSize(in.PageSize)
	where := append([]string(nil), l.where...)
	args := append([]any(nil), l.args...)
	if in.PageToken != "" {
		c, err := store.DecodeCursor(in.PageToken)
		if err != nil {
			return store.Page[T]{}, err
		}
		where = append(where, after(l.order))
		args = append(args, l.values(c)...)
	}
	rows, err := q.Query(ctx, l.sql(where), append(args, size+1)...)
	if err != nil {
		return store.Page[T]{}, err
	}
	items, err := scanAll(rows, l.scan)
	if err != nil {
		return store.Page[T]{}, err
	}
	var p store.Page[T]
	if len(items) > size {
		items = items[:size]
		p.NextPageToken = store.EncodeCursor(l.cursor(items[size-1]))
	}
	p.Items = items
	return p, nil
}

func (l listQuery[T]) sql(where []string) string {
	var b strings.Builder
	b.WriteString("SELECT " + l.columns + " FROM " + l.from)
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY ")
	for i, k := range l.order {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.column)
		if k.desc {
			b.WriteString(" DESC")
		}
	}
	b.WriteString(" LIMIT ?")
	return numberPlaceholders(b.String())
}

// numberPlaceholders turns each "?" into $1, $2 ... in order. Only the
// store's own SQL passes through here, and it has no "?" in literals.
func numberPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	for _, part := range strings.SplitAfter(query, "?") {
		if strings.HasSuffix(part, "?") {
			n++
			part = part[:len(part)-1] + "$" + strconv.Itoa(n)
		}
		b.WriteString(part)
	}
	return b.String()
}

// after returns the condition selecting the rows that come after the
// cursor's values in the given order: a row-value comparison, which
// PostgreSQL answers with one index range scan. It needs every key to run
// the same way; an order_by that mixes directions must expand it to
// (a > ?) OR (a = ? AND b < ?) ...
func after(order []sortKey) string {
	cols := make([]string, len(order))
	marks := make([]string, len(order))
	for i, k := range order {
		cols[i], marks[i] = k.column, "?"
	}
	op := " > "
	if order[0].desc {
		op = " < "
	}
	return "(" + strings.Join(cols, ", ") + ")" + op + "(" + strings.Join(marks, ", ") + ")"
}

func scanAll[T any](rows pgx.Rows, scan func(pgx.Row) (T, error)) ([]T, error) {
	defer rows.Close()
	items := []T{} // an empty page has an empty list, not a nil one
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return nil, err
		}
		items = append(items, item)
	}
	return items, rows.Err()
}

func queryAll[T any](ctx context.Context, q querier, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}
