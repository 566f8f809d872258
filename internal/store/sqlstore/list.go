package sqlstore

import (
	"context"
	"strings"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// listStatement is a list query kept in parts: one collection's columns,
// table and fixed conditions, to which a Query's filter, order and page
// token add through internal/filter.
type listStatement struct {
	resource *filter.Resource
	// columns are what the scan function reads, in order.
	columns string
	// from is the table, named as resource.Table.
	from string
	// where returns the collection's own conditions, binding through b.
	where func(b *filter.Builder) []string
}

// build compiles q for the dialect and returns the statement, its
// arguments and the compiled query that readPage needs. The statement
// selects the columns, then the sort keys, and one row more than the page
// holds. A bad filter, order or token returns a firewall.CodeInvalid error.
func (l listStatement) build(d filter.Dialect, q firewall.Query) (string, []any, *filter.Query, error) {
	fq, err := l.resource.Compile(q.Filter, q.OrderBy)
	if err != nil {
		return "", nil, nil, err
	}
	b := filter.NewBuilder(d)
	var conds []string
	if l.where != nil {
		conds = l.where(b)
	}
	if w := fq.Where(b); w != "" {
		conds = append(conds, w)
	}
	if q.PageToken != "" {
		c, err := store.DecodeCursor(q.PageToken, fq.Binding())
		if err != nil {
			return "", nil, nil, err
		}
		after, err := fq.After(b, c.Keys)
		if err != nil {
			return "", nil, nil, err
		}
		conds = append(conds, after)
	}
	var sb strings.Builder
	sb.WriteString("SELECT " + l.columns + ", " + strings.Join(fq.KeyColumns(), ", ") + " FROM " + l.from)
	if len(conds) > 0 {
		sb.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	sb.WriteString(" ORDER BY " + fq.OrderBy(b) + " LIMIT " + b.Arg(int64(store.PageSize(q.PageSize)+1)))
	return sb.String(), b.Args(), fq, nil
}

// listPage runs one page of a list statement.
func listPage[T any](ctx context.Context, c conn, l listStatement, in firewall.Query, scan func(Row) (T, error)) (firewall.Page[T], error) {
	query, args, fq, err := l.build(c.d.Filter, in)
	if err != nil {
		return firewall.Page[T]{}, err
	}
	rows, err := c.c.Query(ctx, query, args...) // the builder numbered the placeholders
	if err != nil {
		return firewall.Page[T]{}, err
	}
	defer rows.Close()
	return readPage(rows, fq, in.PageSize, scan)
}

// readPage reads the rows of a statement from build into a page of at most
// size items (store.PageSize of the query's size). The extra row, if there
// is one, only says that a next page exists; the token is made from the
// sort keys of the page's last item.
func readPage[T any](rows Rows, fq *filter.Query, size int, scan func(Row) (T, error)) (firewall.Page[T], error) {
	size = store.PageSize(size)
	ks := &keyScanner{rows: rows, keys: make([]any, len(fq.KeyColumns()))}
	p := firewall.Page[T]{Items: []T{}} // an empty page has an empty list, not a nil one
	for rows.Next() {
		if len(p.Items) == size {
			keys, err := fq.Keys(ks.last)
			if err != nil {
				return firewall.Page[T]{}, err
			}
			p.NextPageToken = store.EncodeCursor(store.NewCursor(fq.Binding(), keys))
			break
		}
		item, err := scan(ks)
		if err != nil {
			return firewall.Page[T]{}, err
		}
		p.Items = append(p.Items, item)
	}
	return p, rows.Err()
}

// keyScanner scans a row's sort keys after the columns its caller asks
// for, and keeps them as last.
type keyScanner struct {
	rows Rows
	keys []any
	last []any
}

func (k *keyScanner) Scan(dest ...any) error {
	ptrs := make([]any, len(k.keys))
	for i := range k.keys {
		ptrs[i] = &k.keys[i]
	}
	if err := k.rows.Scan(append(dest, ptrs...)...); err != nil {
		return err
	}
	k.last = append(k.last[:0], k.keys...)
	return nil
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, c conn, scan func(Row) (T, error), query string, args ...any) ([]T, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
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
