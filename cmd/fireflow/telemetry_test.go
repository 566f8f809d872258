package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/httpapi"
	"github.com/fireflow/fireflow/internal/obs"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// fetch GETs url with an optional bearer token and returns status and body.
func fetch(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// TestMetricsListener runs the real server and checks that /metrics is
// served on the metrics listener only, with route patterns as labels, and
// that the access log has one line per request without the token.
func TestMetricsListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	dir := t.TempDir()
	s := startServerWith(t, ctx, filepath.Join(dir, "fireflow.db"), nil, logs)
	secret, err := os.ReadFile(filepath.Join(dir, "dev-secret"))
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := auth.Mint(bytes.TrimSpace(secret), "viewer", []string{string(auth.Viewer)}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := fetch(t, s.url+"/api/v1/audit-events", viewer); code != http.StatusForbidden {
		t.Fatalf("audit log as a viewer: %d, want 403", code)
	}

	if code, _ := fetch(t, s.url+"/api/v1/firewalls", s.token); code != http.StatusOK {
		t.Fatalf("list firewalls: %d", code)
	}
	if code, _ := fetch(t, s.url+"/no/such/path", ""); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}
	if code, _ := fetch(t, s.url+"/api/v1/firewalls", "not-a-jwt"); code != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", code)
	}
	created, err := s.post(s.url+"/api/v1/firewalls", strings.NewReader(`{"name":"edge"}`))
	if err != nil || created.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", created, err)
	}
	created.Body.Close()
	evaluated, err := s.post(s.url+created.Header.Get("Location")+"/evaluate", strings.NewReader(`{"flows":[`+
		`{"protocol":"icmp","source_ip":"192.0.2.1","destination_ip":"198.51.100.1"},`+
		`{"protocol":"icmp","source_ip":"192.0.2.2","destination_ip":"198.51.100.1"}]}`))
	if err != nil || evaluated.StatusCode != http.StatusOK {
		t.Fatalf("evaluate: %v %v", evaluated, err)
	}
	evaluated.Body.Close()
	if code, _ := fetch(t, s.url+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("/metrics on the API port answered %d, want 404", code)
	}
	code, text := fetch(t, s.metricsURL, "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`http_requests_total{code="200",method="GET",route="/api/v1/firewalls"} 1`,
		`http_requests_total{code="401",method="GET",route="/api/v1/firewalls"} 1`,
		`http_requests_total{code="404",method="GET",route="unmatched"} 2`, // /no/such/path and /metrics
		`http_request_duration_seconds_count{method="GET",route="/api/v1/firewalls"} 2`,
		`http_response_size_bytes_count{method="GET",route="/api/v1/firewalls"} 2`,
		`http_request_size_bytes_count{method="GET",route="/api/v1/firewalls"} 2`,
		"http_requests_in_flight 0",
		`fireflow_auth_failures_total{reason="malformed"} 1`,
		`fireflow_auth_failures_total{reason="expired"} 0`,
		`fireflow_auth_failures_total{reason="forbidden"} 1`,
		`fireflow_audit_events_total{action="create",resource_type="firewall"} 1`,
		"fireflow_flows_evaluated_total 2",
		"fireflow_evaluation_duration_seconds_count 1",
		`http_request_size_bytes_count{method="POST",route="/api/v1/firewalls"} 1`,
		`http_request_size_bytes_sum{method="POST",route="/api/v1/firewalls"} 15`,
		`fireflow_build_info{goversion="go`,
		"fireflow_ready 1",
		`fireflow_db_pool_max_connections{pool="write"} 1`,
		`fireflow_db_pool_connections{pool="read",state="idle"}`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q in:\n%s", want, grepLines(text, "http_requests_total"))
		}
	}
	if strings.Contains(text, "/no/such/path") {
		t.Error("/metrics has a raw path as a label")
	}
	if code, _ := fetch(t, strings.Replace(s.metricsURL, "/metrics", "/debug/pprof/", 1), ""); code != http.StatusNotFound {
		t.Errorf("pprof answered %d without --pprof, want 404", code)
	}

	// The access log is buffered; shutting down writes it out.
	cancel()
	s.wait(t)
	var line string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, "method=GET") && strings.Contains(l, "status=200") {
			line = l
		}
	}
	for _, want := range []string{"request_id=", "trace_id=", "method=GET", "route=/api/v1/firewalls", "sub=dev-admin", "duration_us=", "bytes="} {
		if !strings.Contains(line, want) {
			t.Errorf("access log line %q lacks %q", line, want)
		}
	}
	if strings.Contains(logs.String(), s.token) || strings.Contains(logs.String(), viewer) || strings.Contains(logs.String(), "not-a-jwt") {
		t.Error("the logs hold a token")
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestPprofFlag(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"), "--pprof")
	if code, _ := fetch(t, strings.Replace(s.metricsURL, "/metrics", "/debug/pprof/", 1), ""); code != http.StatusOK {
		t.Errorf("pprof answered %d with --pprof, want 200", code)
	}
	if code, _ := fetch(t, s.url+"/debug/pprof/", ""); code != http.StatusNotFound {
		t.Errorf("pprof on the API port answered %d, want 404", code)
	}
	cancel()
	s.wait(t)
}

// testAPI serves newHandler over a fresh SQLite database on loopback, with
// the given observability and authenticator, and returns its URL.
func testAPI(t *testing.T, o observability, authn httpapi.Authenticator, logs io.Writer) (string, *sqlite.Store) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := newHandler(db, "sqlite", o, httpapi.Options{Version: "test", Auth: authn, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return srv.URL, db
}

var testSecret = []byte("fireflow-observe-test-secret-0123456789")

func testToken(t testing.TB) (httpapi.Authenticator, string) {
	t.Helper()
	v, err := auth.NewVerifier(t.Context(), auth.Config{HS256Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.Mint(testSecret, "alice", []string{string(auth.Admin)}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return v, tok
}

// TestTraceSpanTree sends a probe, which is not traced, and one traced
// request, and checks the span tree: a
// server span named by the route, continuing the caller's W3C trace, with
// the store's spans under it; and the trace id in the problem body and the
// access log.
func TestTraceSpanTree(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tracing, err := obs.NewTracing(t.Context(), sdktrace.NewSimpleSpanProcessor(exp), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer tracing.Shutdown(context.Background())
	verifier, token := testToken(t)
	logs := &syncBuffer{}
	url, _ := testAPI(t, observability{metrics: obs.NewMetrics(obs.BuildInfo{}), tracing: tracing}, verifier, logs)

	// Probes are not traced: the only server span must be the request's.
	if code, _ := fetch(t, url+"/readyz", ""); code != http.StatusOK {
		t.Fatalf("/readyz: %d", code)
	}
	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const callerSpan = "00f067aa0ba902b7"
	req, err := http.NewRequest(http.MethodGet, url+"/api/v1/firewalls/0190a0b0-0000-7000-8000-000000000001", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var problem struct {
		TraceID   string `json:"trace_id"`
		RequestID string `json:"request_id"`
	}
	err = json.NewDecoder(res.Body).Decode(&problem)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET a missing firewall: %d %v", res.StatusCode, err)
	}
	if problem.TraceID != callerTrace {
		t.Errorf("problem trace_id %q, want the caller's %q", problem.TraceID, callerTrace)
	}
	if !strings.Contains(logs.String(), "trace_id="+callerTrace) {
		t.Errorf("the access log lacks trace_id=%s:\n%s", callerTrace, logs.String())
	}

	spans := exp.GetSpans()
	var server *tracetest.SpanStub
	for i := range spans {
		if spans[i].SpanKind == trace.SpanKindServer {
			if server != nil {
				t.Fatalf("two server spans: %s and %s", server.Name, spans[i].Name)
			}
			server = &spans[i]
		}
	}
	if server == nil {
		t.Fatalf("no server span among %d spans", len(spans))
	}
	if server.Name != "GET /api/v1/firewalls/{firewall_id}" {
		t.Errorf("server span %q, want it named by the route", server.Name)
	}
	if server.SpanContext.TraceID().String() != callerTrace || server.Parent.SpanID().String() != callerSpan {
		t.Errorf("server span trace %s parent %s: does not continue the caller's trace", server.SpanContext.TraceID(), server.Parent.SpanID())
	}
	var children []string
	for _, s := range spans {
		if s.Parent.SpanID() == server.SpanContext.SpanID() {
			children = append(children, s.Name)
			if s.SpanKind != trace.SpanKindClient {
				t.Errorf("store span %s is of kind %s, want client", s.Name, s.SpanKind)
			}
		}
	}
	if strings.Join(children, ",") != "store.GetFirewall" {
		t.Errorf("spans under the server span: %v, want [store.GetFirewall]", children)
	}
}

// sentryServer is a Sentry ingestion endpoint that keeps every event.
type sentryServer struct {
	mu     sync.Mutex
	events []map[string]any
	raw    []string
}

func (s *sentryServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw = append(s.raw, string(body))
	// An envelope: a header line, then pairs of item header and payload.
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<22)
	sc.Scan()
	for sc.Scan() {
		var item struct{ Type string }
		_ = json.Unmarshal(sc.Bytes(), &item)
		if !sc.Scan() {
			break
		}
		if item.Type == "event" {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err == nil {
				s.events = append(s.events, ev)
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (s *sentryServer) snapshot() ([]map[string]any, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.events...), strings.Join(s.raw, "\n")
}

// panicking is an authenticator that panics, standing in for a bug.
type panicking struct{}

func (panicking) Verify(context.Context, string) (auth.Principal, error) {
	panic("forced panic for the Sentry test")
}

// TestSentryReports checks that a panic, recovered into a 500, and a 5xx
// answer each send exactly one event to the DSN's server, tagged with the
// route, request id and release, and carrying no header or token.
func TestSentryReports(t *testing.T) {
	const secret = "s3cret-bearer-token"
	tests := []struct {
		name      string
		breakDB   bool
		authn     func(t *testing.T) (httpapi.Authenticator, string)
		wantRoute string
		wantCode  int
	}{
		{name: "panic", authn: func(*testing.T) (httpapi.Authenticator, string) { return panicking{}, secret },
			wantRoute: "/api/v1/firewalls", wantCode: http.StatusInternalServerError},
		{name: "5xx", breakDB: true, authn: func(t *testing.T) (httpapi.Authenticator, string) { return testToken(t) }, wantRoute: "/api/v1/firewalls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &sentryServer{}
			ingest := httptest.NewServer(sink)
			defer ingest.Close()
			dsn := strings.Replace(ingest.URL, "http://", "http://publickey@", 1) + "/42"
			reporter, err := obs.NewReporter(dsn, "9.9.9-test", "test")
			if err != nil {
				t.Fatal(err)
			}
			authn, token := tt.authn(t)
			url, db := testAPI(t, observability{metrics: obs.NewMetrics(obs.BuildInfo{}), reporter: reporter, tracing: &obs.Tracing{}}, authn, io.Discard)
			if tt.breakDB {
				db.Close() // every query now fails: the API answers 5xx
			}
			req, err := http.NewRequest(http.MethodGet, url+"/api/v1/firewalls", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Cookie", "session="+secret)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode < 500 || (tt.wantCode != 0 && res.StatusCode != tt.wantCode) {
				t.Fatalf("status %d, want a 5xx", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			reporter.Flush(10 * time.Second)
			events, raw := sink.snapshot()
			if len(events) != 1 {
				t.Fatalf("%d events, want exactly 1:\n%s", len(events), raw)
			}
			ev := events[0]
			tags, _ := ev["tags"].(map[string]any)
			want := map[string]string{"route": tt.wantRoute, "request_id": res.Header.Get("X-Request-ID"), "method": "GET"}
			for k, v := range want {
				if tags[k] != v {
					t.Errorf("tag %s = %v, want %q (tags %v)", k, tags[k], v, tags)
				}
			}
			if ev["release"] != "9.9.9-test" {
				t.Errorf("release %v, want 9.9.9-test", ev["release"])
			}
			for _, leak := range []string{secret, token, "Authorization", "Cookie"} {
				if strings.Contains(raw, leak) {
					t.Errorf("the report holds %q", leak)
				}
			}
		})
	}
}
