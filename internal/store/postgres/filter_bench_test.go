package postgres

import (
	"testing"

	"github.com/fireflow/fireflow/internal/store/storetest"
)

// benchStore builds a store holding storetest.FilterBenchTree.
func benchStore(b *testing.B) *Store {
	b.Helper()
	s := open(b)
	storetest.LoadFilterBench(b, s)
	if _, err := s.pool.Exec(b.Context(), "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkFilteredPage runs storetest.FilterBenchmark on PostgreSQL.
func BenchmarkFilteredPage(b *testing.B) { storetest.FilterBenchmark(b, benchStore(b)) }

// BenchmarkReorder runs storetest.ReorderBenchmark on PostgreSQL.
func BenchmarkReorder(b *testing.B) { storetest.ReorderBenchmark(b, open(b)) }
