package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/config"
	"github.com/fireflow/fireflow/internal/httpapi"
	"github.com/fireflow/fireflow/internal/obs"
)

// serve runs the API until ctx ends, then drains: readiness turns false,
// in-flight requests finish, and the store closes last, so that no
// acknowledged write is lost.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	// Every request logs a line; writing them out in batches keeps that
	// cheap. Deferred first, so that it runs last, after the last line.
	logBuf := obs.NewLogBuffer(stderr, 64<<10, time.Second)
	defer logBuf.Close()
	// During a database outage the API logs a warning per failed request
	// (internal/httpapi: problem.go, health.go); one line per interval
	// says how many there were instead.
	repeats := obs.NewRepeatHandler(logBuf.Logger(cfg.LogLevel, cfg.Production()).Handler(), outageLogInterval,
		"store unavailable", "request ended before the store answered", "not ready")
	defer repeats.Flush()
	log := slog.New(repeats)
	tracing, err := obs.SetupTracing(ctx, getenv, version)
	if err != nil {
		return err
	}
	// Flushes the last spans after the servers stopped (defers run last in, first out).
	defer flushTraces(tracing, log)
	reporter, err := obs.NewReporter(cfg.SentryDSN, version, cfg.Env)
	if err != nil {
		return err
	}
	defer reporter.Flush(5 * time.Second)
	log.Info("starting fireflow", "version", version, "commit", commit, "config", cfg,
		"tracing", tracing.Provider != nil, "error_reporting", reporter != nil)

	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if !cfg.Production() {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	// goose parses migrations with multi-megabyte buffers that it keeps in a
	// sync.Pool. Two collections empty the pool and FreeOSMemory returns the
	// pages, so that an idle server holds a few MB instead of twenty.
	debug.FreeOSMemory()
	debug.FreeOSMemory()

	verifier, secret, err := newVerifier(ctx, cfg)
	if err != nil {
		return err
	}

	var draining atomic.Bool
	ready := func(ctx context.Context) error {
		if draining.Load() {
			return errors.New("draining")
		}
		// A frozen database must fail the probe, not hang it.
		if cfg.ReadyTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, cfg.ReadyTimeout)
			defer cancel()
		}
		return db.Ready(ctx)
	}
	metrics := obs.NewMetrics(obs.BuildInfo{Version: version, Revision: commit})
	metrics.WatchReadiness(ready)
	if stats := poolStats(db); stats != nil {
		metrics.WatchPools(stats)
	}
	driver, _, _ := config.ParseDatabaseURL(cfg.DatabaseURL) // openStore has checked it
	handler := newHandler(db, driver, observability{metrics, reporter, tracing}, httpapi.Options{
		Version: version,
		Logger:  log,
		Auth:    verifier,
		Ready:   ready,
		// The limit and CORS are the configuration's; see internal/config.
		RateLimit:   httpapi.RateLimit{Rate: cfg.RateLimit, Burst: cfg.RateBurst},
		CORSOrigins: cfg.CORSOrigins,
	})

	metricsLn, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on %s for metrics: %w", cfg.MetricsAddr, err)
	}
	metricsSrv := &http.Server{
		Handler:           metrics.Handler(cfg.Pprof),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The metrics listener outlives the API's drain, so that the last
	// scrapes see readiness fall and the in-flight requests finish.
	defer metricsSrv.Close()
	go func() { _ = metricsSrv.Serve(metricsLn) }()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	base := "http://" + displayAddr(ln.Addr())
	fmt.Fprintf(stdout, "FireFlow %s listening on %s\nSwagger UI: %s/docs/swagger-ui\nMetrics: http://%s/metrics\n",
		version, base, base, displayAddr(metricsLn.Addr()))
	if !cfg.Production() && secret != nil {
		if err := printDevToken(stdout, base, secret, cfg); err != nil {
			return err
		}
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: readiness is now false", "drain_delay", cfg.DrainDelay)
	// Keep-alive goes off first: idle connections close now, while the
	// listener still takes their clients' next connection, and each answer
	// of the drain says Connection: close. By the time Shutdown closes the
	// listener, load balancers have seen readiness fall and clients have
	// moved to fresh connections, so that none sends a request on a
	// connection as it closes. See docs/operations.md.
	srv.SetKeepAlivesEnabled(false)
	draining.Store(true)
	time.Sleep(cfg.DrainDelay)

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped: all in-flight requests finished")
	return nil
}

// outageLogInterval is how often an outage's summary line is written.
const outageLogInterval = 10 * time.Second

func flushTraces(t *obs.Tracing, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		log.Warn("could not flush traces", "error", err)
	}
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("localhost", fmt.Sprint(tcp.Port))
}

// printDevToken gives a development user a token to paste into Swagger
// UI's Authorize dialog or curl, so that the API is usable at once, and a
// console link that signs in: the token rides in the fragment, which the
// browser never sends, and the console moves it to sessionStorage.
func printDevToken(w io.Writer, base string, secret []byte, cfg config.Config) error {
	tok, err := auth.Mint(secret, "dev-admin", []string{string(auth.Admin)}, devTokenTTL, cfg.JWTIssuer, cfg.JWTAudience, time.Now())
	if err != nil {
		return fmt.Errorf("mint development token: %w", err)
	}
	fmt.Fprintf(w, "Admin token (valid %s; make jwt prints another):\n%s\n", devTokenTTL, tok)
	fmt.Fprintf(w, "Console: %s/ui/#token=%s\n", base, tok)
	return nil
}
