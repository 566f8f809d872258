package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/fireflow/fireflow/internal/store"
)

// sortKey is one term of a list's ORDER BY.
type sortKey struct {
	column string
	desc   bool
}

// listQuery is a list statement kept in parts, so that a filter can add
// conditions and an order_by can replace the order without editing SQL text.
// Every value travels as a bound argument.
type listQuery[T any] struct {
	columns string
	from    string
	where   []string
	args    []any
	// order must end with a unique column, so that the order is total and a
	// cursor names exactly one place in it.
	order []sortKey
	// scan reads one row selected by columns.
	scan func(scanner) (T, error)
	// cursor returns the sort key values of an item, in the order of order.
	cursor func(T) store.Cursor
	// values returns a cursor's sort key values, in the order of order.
	values func(store.Cursor) []any
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// page runs the query for one page. It fetches one extra row to learn
// whether another page follows without a second query.
func (l listQuery[T]) page(ctx context.Context, q querier, in store.Query) (store.Page[T], error) {
	size := store.PageSize(in.PageSize)
	// Clipped, so that the appends below never write into l's arrays.
	where, args := slices.Clip(l.where), slices.Clip(l.args)
	if in.PageToken != "" {
		c, err := store.DecodeCursor(in.PageToken)
		if err != nil {
			return store.Page[T]{}, err
		}
		cond, condArgs := after(l.order, l.values(c))
		where = append(where, cond)
		args = append(args, condArgs...)
	}
	rows, err := q.QueryContext(ctx, l.sql(where), append(args, size+1)...)
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
	return b.String()
}

// after returns the condition selecting the rows that come after values in
// the given order: a row-value comparison, which SQLite answers with one
// index range scan. It needs every key to run the same way; an order_by that
// mixes directions must expand it to (a > ?) OR (a = ? AND b < ?) ...
func after(order []sortKey, values []any) (string, []any) {
	cols := make([]string, len(order))
	marks := make([]string, len(order))
	for i, k := range order {
		cols[i], marks[i] = k.column, "?"
	}
	op := " > "
	if order[0].desc {
		op = " < "
	}
	return "(" + strings.Join(cols, ", ") + ")" + op + "(" + strings.Join(marks, ", ") + ")", values
}

func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
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
