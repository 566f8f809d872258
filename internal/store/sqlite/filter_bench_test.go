package sqlite

import (
	"slices"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/filter"
)

// BenchmarkFilteredPage runs storetest.FilterBenchmark on SQLite.
func BenchmarkFilteredPage(b *testing.B) { engine().FilterBenchmark(b) }

// BenchmarkReorder runs storetest.ReorderBenchmark on SQLite.
func BenchmarkReorder(b *testing.B) { engine().ReorderBenchmark(b) }

// TestBenchQueriesUseIndexes checks the plan of the benchmark's queries:
// rules are read through the policy's index, and the child tables by
// their primary keys, never scanned.
func TestBenchQueriesUseIndexes(t *testing.T) {
	q, err := filter.Rules.Compile(`source_contains("10.1.2.3") AND destination_port_contains(443)`, "name desc")
	if err != nil {
		t.Fatal(err)
	}
	b := filter.NewBuilder(filter.SQLite)
	sql := "SELECT id FROM rules WHERE policy_id = " + b.Arg("p") + " AND " + q.Where(b) + " ORDER BY " + q.OrderBy(b) + " LIMIT 51"
	s := open(t)
	rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+sql, b.Args()...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	for _, step := range plan {
		if slices.Contains([]string{"SCAN rules", "SCAN a", "SCAN p"}, step) || strings.Contains(step, "TEMP B-TREE") {
			t.Errorf("the plan scans a whole table or sorts: %q in %q", step, plan)
		}
	}
	if len(plan) == 0 {
		t.Fatal("no plan")
	}
}
