package obs

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats is one database connection pool's state, whichever driver
// runs it: database/sql for SQLite, pgxpool for PostgreSQL.
type PoolStats struct {
	// Pool names the pool, such as "read" and "write" for SQLite.
	Pool string
	// InUse and Idle count the open connections.
	InUse, Idle int
	// Max is the most connections the pool opens.
	Max int
	// WaitCount is how many times a caller waited for a connection.
	WaitCount int64
	// WaitSeconds is the total time callers waited.
	WaitSeconds float64
}

// PoolStatsFunc reports the state of every pool of the running store.
type PoolStatsFunc func() []PoolStats

// FromDBStats converts database/sql pool statistics.
func FromDBStats(pool string, s sql.DBStats) PoolStats {
	return PoolStats{
		Pool: pool, InUse: s.InUse, Idle: s.Idle, Max: s.MaxOpenConnections,
		WaitCount: s.WaitCount, WaitSeconds: s.WaitDuration.Seconds(),
	}
}

// WatchPools exports the pools' statistics, read at every scrape, so that
// the numbers are current and nothing polls between scrapes.
func (m *Metrics) WatchPools(stats PoolStatsFunc) {
	m.reg.MustRegister(&poolCollector{
		stats: stats,
		conns: prometheus.NewDesc("fireflow_db_pool_connections",
			"Open database connections, by pool and state (in_use or idle).", []string{"pool", "state"}, nil),
		max: prometheus.NewDesc("fireflow_db_pool_max_connections",
			"The most connections the pool opens.", []string{"pool"}, nil),
		waits: prometheus.NewDesc("fireflow_db_pool_waits_total",
			"Times a caller waited for a free connection.", []string{"pool"}, nil),
		waitSeconds: prometheus.NewDesc("fireflow_db_pool_wait_seconds_total",
			"Total time callers waited for a free connection.", []string{"pool"}, nil),
	})
}

type poolCollector struct {
	stats                          PoolStatsFunc
	conns, max, waits, waitSeconds *prometheus.Desc
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.conns
	ch <- c.max
	ch <- c.waits
	ch <- c.waitSeconds
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stats() {
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.InUse), s.Pool, "in_use")
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(s.Idle), s.Pool, "idle")
		ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(s.Max), s.Pool)
		ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(s.WaitCount), s.Pool)
		ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, s.WaitSeconds, s.Pool)
	}
}
