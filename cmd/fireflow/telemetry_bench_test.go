package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/httpapi"
	"github.com/fireflow/fireflow/internal/obs"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// BenchmarkObservationCost serves GET /api/v1/firewalls/{id} in process,
// without the network, so that the figures show what the middleware costs
// rather than what loopback costs: "plain" is the API without metrics and
// with logs discarded, "observed" is it as fireflow serves it, with
// metrics, store decorator and an info-level access log written to a file
// through the log buffer,
// tracing off. Compare ns/op: make bench measures the same over HTTP.
func BenchmarkObservationCost(b *testing.B) {
	ctx := b.Context()
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "fireflow.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	verifier, token := testToken(b)
	logFile, err := os.Create(filepath.Join(dir, "access.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	logBuf := obs.NewLogBuffer(logFile, 64<<10, time.Second) // as serve logs
	defer logBuf.Close()
	handlers := map[string]http.Handler{
		"plain": httpapi.New(service.New(db), httpapi.Options{Auth: verifier, Logger: slog.New(slog.DiscardHandler)}),
		"observed": newHandler(db, "sqlite", observability{metrics: obs.NewMetrics(obs.BuildInfo{}), tracing: &obs.Tracing{}},
			httpapi.Options{Auth: verifier, Logger: logBuf.Logger(slog.LevelInfo, true)}),
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/firewalls", strings.NewReader(`{"name":"bench"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	handlers["plain"].ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	id := rec.Header().Get("Location")[strings.LastIndex(rec.Header().Get("Location"), "/")+1:]
	// /healthz does no auth and no database work, so the difference of its
	// two variants is the observation's own cost per request in ns. The
	// parallel runs serve on every core at once, as a loaded server does,
	// where state that every request writes is shared between cores.
	get := func(b *testing.B, h http.Handler, path string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Errorf("GET %s: %d", path, w.Code)
		}
	}
	for _, path := range []string{"/api/v1/firewalls/" + id, "/healthz"} {
		for _, name := range []string{"plain", "observed"} {
			h := handlers[name]
			b.Run(strings.TrimPrefix(path[:min(len(path), 17)], "/")+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					get(b, h, path)
				}
			})
		}
	}
	for _, name := range []string{"plain", "observed"} {
		h := handlers[name]
		b.Run("parallel/"+name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get(b, h, "/api/v1/firewalls/"+id)
				}
			})
		})
	}
}
