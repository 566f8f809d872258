package postgres

import (
	"testing"

	"github.com/fireflow/fireflow/internal/store/storetest"
)

// BenchmarkFilteredPage runs storetest.FilterBenchmark on PostgreSQL.
func BenchmarkFilteredPage(b *testing.B) { engine().FilterBenchmark(b) }

// BenchmarkReorder runs storetest.ReorderBenchmark on PostgreSQL.
func BenchmarkReorder(b *testing.B) { storetest.ReorderBenchmark(b, open(b)) }
