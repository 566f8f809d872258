package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
)

// server is one run of "fireflow serve" inside the test process.
type server struct {
	url        string
	metricsURL string // the metrics listener's /metrics
	token      string // the admin token the development server printed
	done       chan error
}

// startServer runs "fireflow serve" on a free loopback port over the given
// database, and returns once it listens. ctx stands for the process's
// signal context.
func startServer(t *testing.T, ctx context.Context, dbPath string, extra ...string) *server {
	t.Helper()
	return startServerWith(t, ctx, dbPath, nil, io.Discard, extra...)
}

// startServerWith is startServer with environment variables and a writer
// for the logs.
func startServerWith(t *testing.T, ctx context.Context, dbPath string, env map[string]string, logs io.Writer, extra ...string) *server {
	t.Helper()
	out, w := io.Pipe()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--database-url", "sqlite:" + dbPath, "--metrics-addr", "127.0.0.1:0",
		"--dev-secret-file", filepath.Join(filepath.Dir(dbPath), "dev-secret")}, extra...)
	s := &server{done: make(chan error, 1)}
	go func() {
		err := run(ctx, args, func(k string) string { return env[k] }, w, logs)
		w.Close()
		s.done <- err
	}()
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	metrics := regexp.MustCompile(`^Metrics: (http://\S+)`)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			s.url = m[1]
		}
		if m := metrics.FindStringSubmatch(sc.Text()); m != nil {
			s.metricsURL = m[1]
		}
		if strings.HasPrefix(sc.Text(), "Admin token") && sc.Scan() {
			s.token = sc.Text()
			break
		}
	}
	if s.url == "" || s.token == "" {
		t.Fatalf("server did not start: %v", <-s.done)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return s
}

func (s *server) wait(t *testing.T) {
	t.Helper()
	// No deadline of its own: a server that does not stop hangs the test
	// until go test's -timeout, which dumps every goroutine, the stuck
	// one included.
	if err := <-s.done; err != nil {
		t.Fatalf("run returned %v", err)
	}
}

// post sends a JSON body with the server's admin token.
func (s *server) post(url string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	return http.DefaultClient.Do(req)
}

func (s *server) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// create POSTs body to path and returns the new resource's id.
func (s *server) create(t *testing.T, path, body string) string {
	t.Helper()
	res, err := s.post(s.url+path, strings.NewReader(body))
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %v %v", path, res, err)
	}
	defer res.Body.Close()
	var m struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// awaitMetric scrapes the metrics listener until it reports the sample
// line want, such as "fireflow_ready 0". It asserts nothing about time:
// the metrics listener outlives the API's drain, so the state it waits
// for is one the server reaches and shows for as long as the test holds
// a request in flight.
func (s *server) awaitMetric(t *testing.T, want string) {
	t.Helper()
	for {
		_, text := fetch(t, s.metricsURL, "")
		if slices.Contains(strings.Split(text, "\n"), want) {
			return
		}
		time.Sleep(10 * time.Millisecond) // a poll interval, not a bound
	}
}

// TestServeDrainsOnSIGTERM starts the real server, sends the process a
// SIGTERM while a request is still uploading its body, and checks that
// readiness turns false, the request completes, the server exits cleanly,
// and the data is there after a restart.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "fireflow.db")
	sigCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	s := startServer(t, sigCtx, dbPath, "--drain-delay", "2s")

	if code, _ := s.get(t, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz = %d before shutdown", code)
	}
	first, err := s.post(s.url+"/api/v1/firewalls", strings.NewReader(`{"name":"before-sigterm"}`))
	if err != nil || first.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v %v", first, err)
	}
	first.Body.Close()

	// A request whose body is only half sent when SIGTERM arrives.
	body, upload := io.Pipe()
	inFlight := make(chan *http.Response, 1)
	go func() {
		res, err := s.post(s.url+"/api/v1/firewalls", body)
		if err != nil {
			t.Errorf("in-flight request failed: %v", err)
		}
		inFlight <- res
	}()
	fmt.Fprint(upload, `{"name":"in-fli`)
	// SIGTERM must find the request in the server, not on its way there.
	s.awaitMetric(t, "http_requests_in_flight 1")

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	<-sigCtx.Done()
	// The server sees the signal in its own goroutine, so readiness turns
	// false shortly after, not at once: wait for the drain to show on the
	// metrics listener, which the half-sent request keeps up, then ask
	// /readyz, which the drain delay keeps listening.
	s.awaitMetric(t, "fireflow_ready 0")
	if code, _ := s.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d while draining, want 503", code)
	}
	fmt.Fprint(upload, `ght"}`)
	upload.Close()
	res := <-inFlight
	if res == nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: %+v", res)
	}
	res.Body.Close()
	s.wait(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	again := startServer(t, ctx, dbPath)
	code, page := again.get(t, "/api/v1/firewalls")
	if code != http.StatusOK {
		t.Fatalf("list after restart: %d", code)
	}
	var names []string
	for _, item := range page["items"].([]any) {
		names = append(names, item.(map[string]any)["name"].(string))
	}
	if strings.Join(names, ",") != "before-sigterm,in-flight" {
		t.Fatalf("after restart the firewalls are %v, want both writes", names)
	}
	cancel()
	again.wait(t)
}

func TestRunCommands(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "fireflow.db")
	tests := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: []string{"version"}, want: "fireflow dev"},
		{args: []string{"migrate", "status", "--database-url", dbURL}, want: "schema version 0 of 9"},
		{args: []string{"migrate", "up", "--database-url", dbURL}, want: "schema version 9 of 9 (current)"},
		{args: []string{"migrate", "version", "--database-url", dbURL}, want: "9"},
		{args: []string{"migrate", "down", "--database-url", dbURL}, want: "schema version 8 of 9"},
		{args: []string{"migrate", "sideways", "--database-url", dbURL}, wantErr: "unknown migrate action"},
		{args: []string{}, wantErr: "no command"},
		{args: []string{"fly"}, wantErr: "unknown command"},
		{args: []string{"serve", "--database-url", "mysql://x"}, wantErr: "use sqlite:PATH or postgres://HOST/DB"},
		{args: []string{"serve", "--env", "staging"}, wantErr: "use development or production"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tt.args, func(string) string { return "" }, &out, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("output %q, error %v; want output containing %q", out.String(), err, tt.want)
			}
		})
	}
}

func TestProductionRefusesImplicitDatabase(t *testing.T) {
	env := map[string]string{"FIREFLOW_ENV": "production"}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "explicit FIREFLOW_DATABASE_URL") {
		t.Fatalf("error %v, want a refusal to start without a database URL", err)
	}
}

// TestProductionKeys checks that a production server refuses to start
// without a way to verify tokens, while a production migration, which
// verifies none, needs only the database URL.
func TestProductionKeys(t *testing.T) {
	env := map[string]string{"FIREFLOW_ENV": "production", "FIREFLOW_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "fireflow.db")}
	getenv := func(k string) string { return env[k] }
	err := run(context.Background(), []string{"serve"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "production needs FIREFLOW_JWT_JWKS_URL or FIREFLOW_JWT_SECRET") {
		t.Fatalf("serve: error %v, want a refusal to start without a token key", err)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"migrate", "up"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("migrate up in production without a token key: %v", err)
	}
	if !strings.Contains(out.String(), "(current)") {
		t.Fatalf("migrate up printed %q", out.String())
	}
}

// syncBuffer is a bytes.Buffer that the server's goroutines may write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogsHoldNoSecrets runs the server at debug level, sends it good,
// bad and forged tokens, and checks that no token, no signature and not
// the secret itself reach the logs.
func TestLogsHoldNoSecrets(t *testing.T) {
	secret := "log-test-secret-0123456789abcdef-0123456789"
	env := map[string]string{"FIREFLOW_JWT_SECRET": secret, "FIREFLOW_LOG_LEVEL": "debug"}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServerWith(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"), env, &logs)

	good, err := auth.Mint([]byte(secret), "alice", []string{"admin"}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	forged := parts[0] + "." + parts[1] + ".c2lnbmF0dXJlLXRoYXQtaXMtd3Jvbmc"
	for _, tok := range []string{good, forged, s.token} {
		for _, path := range []string{"/api/v1/firewalls", "/api/v1/audit-events", "/api/v1/firewalls/nope"} {
			req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
		}
	}
	cancel()
	s.wait(t)

	text := logs.String()
	if !strings.Contains(text, "sub=alice") {
		t.Fatalf("the access log does not name the caller; the test would prove nothing:\n%s", text)
	}
	for name, needle := range map[string]string{
		"the secret": secret, "a token": good, "a signature": parts[2], "a forged signature": "c2lnbmF0dXJlLXRoYXQtaXMtd3Jvbmc",
		"the dev token": s.token,
	} {
		if strings.Contains(text, needle) {
			t.Errorf("the logs contain %s", name)
		}
	}
}
