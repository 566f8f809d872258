package sqlite

import "testing"

// BenchmarkHistory runs storetest.HistoryBenchmark on SQLite.
func BenchmarkHistory(b *testing.B) { engine().HistoryBenchmark(b) }
