package postgres

import (
	"testing"
)

// BenchmarkFilteredPage runs storetest.FilterBenchmark on PostgreSQL.
func BenchmarkFilteredPage(b *testing.B) { engine().FilterBenchmark(b) }

// BenchmarkReorder runs storetest.ReorderBenchmark on PostgreSQL.
func BenchmarkReorder(b *testing.B) { engine().ReorderBenchmark(b) }
