package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// scanner is what pgx.Row and pgx.Rows have in common.
type scanner = store.Scanner

// listPage runs one page of a list statement.
func listPage[T any](ctx context.Context, q querier, l store.ListStatement, in firewall.Query, scan func(scanner) (T, error)) (firewall.Page[T], error) {
	query, args, fq, err := l.Build(filter.Postgres, in)
	if err != nil {
		return firewall.Page[T]{}, err
	}
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return firewall.Page[T]{}, err
	}
	defer rows.Close()
	return store.ReadPage(rows, fq, in.PageSize, scan)
}

func scanAll[T any](rows pgx.Rows, scan func(scanner) (T, error)) ([]T, error) {
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

func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return scanAll(rows, scan)
}
