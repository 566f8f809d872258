package main

import (
	"database/sql"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fireflow/fireflow/internal/httpapi"
	"github.com/fireflow/fireflow/internal/obs"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/instrumented"
)

// observability is what a server reports to.
type observability struct {
	metrics  *obs.Metrics
	reporter *obs.Reporter // nil without SENTRY_DSN
	tracing  *obs.Tracing
}

// newHandler builds the API over db with every observation wired in: store
// spans and audit counts through the instrumented store, request metrics,
// error reports and server spans through the API's options.
func newHandler(db store.Store, driver string, o observability, opts httpapi.Options, svcOpts ...service.Option) http.Handler {
	system := driver
	if driver == "postgres" {
		system = "postgresql" // the OpenTelemetry name
	}
	st := instrumented.Wrap(db, instrumented.Options{
		Tracer: o.tracing.Tracer("github.com/fireflow/fireflow/internal/store"),
		System: system,
		Audit:  o.metrics,
	})
	opts.Observer = httpObserver{metrics: o.metrics, reporter: o.reporter}
	opts.TracerProvider = o.tracing.Provider
	opts.Propagator = o.tracing.Propagator
	return httpapi.New(service.New(st, svcOpts...), opts)
}

// httpObserver feeds what the API observes into the metrics, and panics and
// 5xx answers into Sentry (a nil reporter reports nothing).
type httpObserver struct {
	metrics  *obs.Metrics
	reporter *obs.Reporter
}

func (o httpObserver) RequestStarted() { o.metrics.RequestStarted() }

func (o httpObserver) RequestFinished(r *httpapi.RequestRecord) {
	o.metrics.RequestFinished(r.Method, r.Route, r.Status, r.RequestBytes, r.ResponseBytes, r.Duration)
	if r.Status < 500 && r.Panic == nil {
		return
	}
	report := obs.RequestReport{Method: r.Method, Route: r.Route, Status: r.Status, RequestID: r.RequestID, TraceID: r.TraceID}
	if r.Panic != nil {
		o.reporter.Panic(report, r.Panic)
		return
	}
	o.reporter.ServerError(report)
}

func (o httpObserver) AuthFailed(reason string) { o.metrics.AuthFailed(reason) }

func (o httpObserver) RateLimited(by string) { o.metrics.RateLimited(by) }

func (o httpObserver) Evaluated(flows int, elapsed time.Duration) {
	o.metrics.Evaluated(flows, elapsed)
}

// poolStats returns the pool statistics of whichever store runs, or nil if
// it exposes none.
func poolStats(db database) obs.PoolStatsFunc {
	switch s := db.(type) {
	case interface{ PoolStats() map[string]sql.DBStats }:
		return func() []obs.PoolStats {
			var out []obs.PoolStats
			for name, st := range s.PoolStats() {
				out = append(out, obs.FromDBStats(name, st))
			}
			return out
		}
	case interface{ Pool() *pgxpool.Pool }:
		return func() []obs.PoolStats {
			st := s.Pool().Stat()
			return []obs.PoolStats{{
				Pool: "postgres", InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()), Max: int(st.MaxConns()),
				WaitCount: st.EmptyAcquireCount(), WaitSeconds: st.EmptyAcquireWaitTime().Seconds(),
			}}
		}
	default:
		return nil
	}
}
