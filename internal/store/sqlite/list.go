package sqlite

import (
	"context"
	"database/sql"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner = store.Scanner

// listPage runs one page of a list statement.
func listPage[T any](ctx context.Context, q querier, l store.ListStatement, in firewall.Query, scan func(scanner) (T, error)) (firewall.Page[T], error) {
	query, args, fq, err := l.Build(filter.SQLite, in)
	if err != nil {
		return firewall.Page[T]{}, err
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return firewall.Page[T]{}, err
	}
	defer rows.Close()
	return store.ReadPage(rows, fq, in.PageSize, scan)
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
