package postgres

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/store"
)

func BenchmarkZZExplain(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	for _, f := range strings.Split(os.Getenv("FILTERS"), ";;") {
		parts := strings.SplitN(f, "|", 2)
		ob := ""
		if len(parts) == 2 {
			ob = parts[1]
		}
		l := store.ListStatement{Resource: filter.Rules, Columns: "rules.id", From: "rules",
			Where: func(bb *filter.Builder) []string { return []string{"policy_id = " + bb.Arg("pol"), "firewall_id = " + bb.Arg("fw")} }}
		q, args, _, err := l.Build(filter.Postgres, store.Query{Filter: parts[0], OrderBy: ob, PageSize: 50})
		if err != nil {
			b.Fatal(err)
		}
		for _, sql := range strings.Split(os.Getenv("PRE"), ";;") {
			if sql != "" {
				if _, err := s.pool.Exec(ctx, sql); err != nil {
					b.Fatal(err)
				}
			}
		}
		rows, err := s.pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS off) "+q, args...)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Println("=====", f, "\n", q)
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			fmt.Println(line)
		}
		rows.Close()
	}
}
