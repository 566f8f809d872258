package postgres

import "testing"

// BenchmarkHistory runs storetest.HistoryBenchmark on PostgreSQL.
func BenchmarkHistory(b *testing.B) { engine().HistoryBenchmark(b) }
