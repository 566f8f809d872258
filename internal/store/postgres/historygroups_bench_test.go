package postgres

import "testing"

// BenchmarkHistoryGroups runs storetest.HistoryGroupsBenchmark on PostgreSQL.
func BenchmarkHistoryGroups(b *testing.B) { engine().HistoryGroupsBenchmark(b) }
