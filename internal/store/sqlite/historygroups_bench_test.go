package sqlite

import "testing"

// BenchmarkHistoryGroups runs storetest.HistoryGroupsBenchmark on SQLite.
func BenchmarkHistoryGroups(b *testing.B) { engine().HistoryGroupsBenchmark(b) }
