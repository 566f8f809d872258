package store

import (
	"strings"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

// ListStatement is a list query kept in parts: one collection's columns,
// table and fixed conditions, to which a Query's filter, order and page
// token add through internal/filter. Both stores build their lists with it,
// so that a filter selects the same items in each.
type ListStatement struct {
	Resource *filter.Resource
	// Columns are what the store's scan function reads, in order.
	Columns string
	// From is the table, named as Resource.Table.
	From string
	// Where returns the collection's own conditions, binding through b.
	Where func(b *filter.Builder) []string
}

// Build compiles q for the dialect and returns the statement, its
// arguments and the compiled query that ReadPage needs. The statement
// selects the columns, then the sort keys, and one row more than the page
// holds. A bad filter, order or token returns a firewall.CodeInvalid error.
func (l ListStatement) Build(d filter.Dialect, q firewall.Query) (string, []any, *filter.Query, error) {
	fq, err := l.Resource.Compile(q.Filter, q.OrderBy)
	if err != nil {
		return "", nil, nil, err
	}
	b := filter.NewBuilder(d)
	var conds []string
	if l.Where != nil {
		conds = l.Where(b)
	}
	if w := fq.Where(b); w != "" {
		conds = append(conds, w)
	}
	if q.PageToken != "" {
		c, err := DecodeCursor(q.PageToken, fq.Binding())
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
	sb.WriteString("SELECT " + l.Columns + ", " + strings.Join(fq.KeyColumns(), ", ") + " FROM " + l.From)
	if len(conds) > 0 {
		sb.WriteString(" WHERE " + strings.Join(conds, " AND "))
	}
	sb.WriteString(" ORDER BY " + fq.OrderBy(b) + " LIMIT " + b.Arg(int64(PageSize(q.PageSize)+1)))
	return sb.String(), b.Args(), fq, nil
}

// Rows is what database/sql and pgx result sets have in common.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Scanner reads one row's columns.
type Scanner interface {
	Scan(dest ...any) error
}

// ReadPage reads the rows of a statement from Build into a page of at most
// size items (PageSize of the query's size). The extra row, if there is
// one, only says that a next page exists; the token is made from the sort
// keys of the page's last item. The caller closes rows.
func ReadPage[T any](rows Rows, fq *filter.Query, size int, scan func(Scanner) (T, error)) (firewall.Page[T], error) {
	size = PageSize(size)
	ks := &keyScanner{rows: rows, keys: make([]any, len(fq.KeyColumns()))}
	p := firewall.Page[T]{Items: []T{}} // an empty page has an empty list, not a nil one
	for rows.Next() {
		if len(p.Items) == size {
			keys, err := fq.Keys(ks.last)
			if err != nil {
				return firewall.Page[T]{}, err
			}
			p.NextPageToken = EncodeCursor(NewCursor(fq.Binding(), keys))
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
