package obs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTracingEnabled(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"unset", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TracingEnabled(env(tt.env)); got != tt.want {
				t.Fatalf("TracingEnabled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSetupTracing(t *testing.T) {
	off, err := SetupTracing(t.Context(), env(nil), "1.0.0")
	if err != nil || off.Provider != nil || off.Tracer("x") != nil {
		t.Fatalf("with no OTEL_* variables: %+v %v, want tracing off", off, err)
	}
	if err := off.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	on, err := SetupTracing(t.Context(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}), "1.0.0")
	if err != nil || on.Provider == nil || on.Tracer("x") == nil || on.Propagator == nil {
		t.Fatalf("with an endpoint: %+v %v, want tracing on", on, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := on.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = SetupTracing(t.Context(), env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}), "1.0.0")
	if err == nil || !strings.Contains(err.Error(), "http/protobuf") {
		t.Fatalf("grpc protocol: %v, want an error naming http/protobuf", err)
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, 0, true).Info("hello", "k", "v")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["msg"] != "hello" || line["k"] != "v" {
		t.Fatalf("production log %q is not the JSON line wanted: %v", buf.String(), err)
	}
	buf.Reset()
	NewLogger(&buf, 0, false).Debug("hidden")
	NewLogger(&buf, 0, false).Info("hello", "k", "v")
	if got := buf.String(); !strings.Contains(got, "msg=hello k=v") || strings.Contains(got, "hidden") {
		t.Fatalf("development log %q: want a text line at info level", got)
	}
}

func TestPoolsAndReadiness(t *testing.T) {
	m := NewMetrics(BuildInfo{Version: "1.2.3", Revision: "abc"})
	m.WatchPools(func() []PoolStats {
		return []PoolStats{{Pool: "main", InUse: 3, Idle: 2, Max: 10, WaitCount: 7, WaitSeconds: 1.5}}
	})
	var ready error
	m.WatchReadiness(func(context.Context) error { return ready })
	want := `
# HELP fireflow_db_pool_connections Open database connections, by pool and state (in_use or idle).
# TYPE fireflow_db_pool_connections gauge
fireflow_db_pool_connections{pool="main",state="idle"} 2
fireflow_db_pool_connections{pool="main",state="in_use"} 3
# HELP fireflow_db_pool_max_connections The most connections the pool opens.
# TYPE fireflow_db_pool_max_connections gauge
fireflow_db_pool_max_connections{pool="main"} 10
# HELP fireflow_db_pool_wait_seconds_total Total time callers waited for a free connection.
# TYPE fireflow_db_pool_wait_seconds_total counter
fireflow_db_pool_wait_seconds_total{pool="main"} 1.5
# HELP fireflow_db_pool_waits_total Times a caller waited for a free connection.
# TYPE fireflow_db_pool_waits_total counter
fireflow_db_pool_waits_total{pool="main"} 7
# HELP fireflow_ready 1 when the server is ready to take traffic (as /readyz), 0 when not or while draining.
# TYPE fireflow_ready gauge
fireflow_ready 1
`
	names := []string{"fireflow_db_pool_connections", "fireflow_db_pool_max_connections", "fireflow_db_pool_wait_seconds_total", "fireflow_db_pool_waits_total", "fireflow_ready"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	ready = errors.New("draining")
	if got := gaugeOf(t, m, "fireflow_ready"); got != 0 {
		t.Fatalf("fireflow_ready = %v while not ready, want 0", got)
	}
	if problems, err := testutil.GatherAndLint(m.Registry()); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint: %v %v", problems, err)
	}
}

// gaugeOf gathers the registry and returns the single-series metric name.
func gaugeOf(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

func TestRequestFinished(t *testing.T) {
	m := NewMetrics(BuildInfo{})
	for _, r := range []struct {
		method string
		status int
	}{{"GET", 200}, {"GET", 200}, {"GET", 404}, {"BREW", 405}, {"PROPFIND", 405}} {
		m.RequestStarted()
		m.RequestFinished(r.method, "/api/v1/firewalls", r.status, 10, 100, 3*time.Millisecond)
	}
	want := `
# HELP http_requests_in_flight HTTP requests being served now.
# TYPE http_requests_in_flight gauge
http_requests_in_flight 0
# HELP http_requests_total HTTP requests answered, by method, route pattern and status code.
# TYPE http_requests_total counter
http_requests_total{code="200",method="GET",route="/api/v1/firewalls"} 2
http_requests_total{code="404",method="GET",route="/api/v1/firewalls"} 1
http_requests_total{code="405",method="other",route="/api/v1/firewalls"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "http_requests_in_flight", "http_requests_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.duration); n != 2 {
		t.Errorf("%d duration series, want 2 (GET and other)", n)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range families {
		if f.GetName() != "http_response_size_bytes" {
			continue
		}
		for _, s := range f.GetMetric() {
			if s.GetLabel()[0].GetValue() == "GET" {
				found = true
				if h := s.GetHistogram(); h.GetSampleCount() != 3 || h.GetSampleSum() != 300 {
					t.Errorf("GET response sizes: %d samples summing to %v, want 3 and 300", h.GetSampleCount(), h.GetSampleSum())
				}
			}
		}
	}
	if !found {
		t.Error("no GET series of http_response_size_bytes")
	}
}
