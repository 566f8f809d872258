package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// replicaSecret signs the tokens of the production replicas in these tests.
const replicaSecret = "replica-test-secret-0123456789abcdef-0123"

// replica is one production "fireflow serve" on PostgreSQL, run in the test
// process with its own pool, engine cache and HTTP server: to the database
// it is a separate FireFlow process.
type replica struct {
	t          *testing.T
	url        string
	metricsURL string
	token      string
	client     *http.Client
	done       chan error
}

// startReplica starts a production server on dbURL and returns once it
// listens. It never migrates; ready or not is for /readyz to say. The
// server stops when the test ends.
func startReplica(t *testing.T, dbURL string, extra ...string) *replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"FIREFLOW_ENV": "production", "FIREFLOW_JWT_SECRET": replicaSecret, "FIREFLOW_DATABASE_URL": dbURL}
	out, w := io.Pipe()
	r := &replica{t: t, done: make(chan error, 1),
		// A request that hangs fails the test instead of blocking it.
		client: &http.Client{Timeout: 15 * time.Second}}
	go func() {
		// The writers of these tests share one subject: no rate limit.
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--drain-delay", "0s", "--rate-limit", "0"}, extra...)
		err := run(ctx, args,
			func(k string) string { return env[k] }, w, io.Discard)
		w.Close()
		r.done <- err
	}()
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	metrics := regexp.MustCompile(`^Metrics: (http://\S+)`)
	sc := bufio.NewScanner(out)
	for (r.url == "" || r.metricsURL == "") && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			r.url = m[1]
		}
		if m := metrics.FindStringSubmatch(sc.Text()); m != nil {
			r.metricsURL = m[1]
		}
	}
	if r.url == "" || r.metricsURL == "" {
		cancel()
		t.Fatalf("replica did not start: %v", <-r.done)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("replica %s: %v", r.url, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("replica %s did not stop", r.url)
		}
	})
	tok, err := auth.Mint([]byte(replicaSecret), "replica-test", []string{string(auth.Admin)}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r.token = tok
	return r
}

// reply is a response, its body decoded.
type reply struct {
	status      int
	contentType string
	body        map[string]any
	header      http.Header
}

// send sends a request and returns the reply, or an error if there was
// none (such as a timeout). headers are name, value pairs.
func (r *replica) send(method, path string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.url+path, rd)
	if err != nil {
		return reply{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := r.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	out := reply{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), header: res.Header}
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return out, err
	}
	if len(raw) > 0 && json.Unmarshal(raw, &out.body) != nil {
		return out, fmt.Errorf("%s %s: %d with a body that is not a JSON object: %q", method, path, res.StatusCode, raw)
	}
	return out, nil
}

// must sends a request and fails the test unless it answers want.
func (r *replica) must(want int, method, path string, body any, headers ...string) map[string]any {
	r.t.Helper()
	res, err := r.send(method, path, body, headers...)
	if err != nil {
		r.t.Fatalf("%s %s on %s: %v", method, path, r.url, err)
	}
	if res.status != want {
		r.t.Fatalf("%s %s on %s: %d %v, want %d", method, path, r.url, res.status, res.body, want)
	}
	return res.body
}

// pollReady asks /readyz until it answers want, and fails the test if it
// does not within a minute.
func (r *replica) pollReady(want int) {
	r.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := r.send(http.MethodGet, "/readyz", nil)
		if err == nil && res.status == want {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("/readyz on %s: %+v %v, want %d", r.url, res, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// migrateCmd runs "fireflow migrate args..." against dbURL and returns its output.
func migrateCmd(t *testing.T, dbURL string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(t.Context(), append(append([]string{"migrate"}, args...), "--database-url", dbURL),
		func(string) string { return "" }, &out, io.Discard)
	return out.String(), err
}

func TestMigrateCommandsOnPostgres(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	steps := []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: []string{"status"}, want: "schema version 0 of 9"},
		{args: []string{"up"}, want: "schema version 9 of 9 (current)"},
		{args: []string{"up"}, want: "schema version 9 of 9 (current)"},
		{args: []string{"version"}, want: "9"},
		{args: []string{"down"}, want: "schema version 8 of 9 (behind"},
		{args: []string{"down"}, want: "schema version 7 of 9"},
		{args: []string{"down"}, want: "schema version 6 of 9"},
		{args: []string{"down"}, want: "schema version 5 of 9"},
		{args: []string{"down"}, want: "schema version 4 of 9"},
		{args: []string{"down"}, want: "schema version 3 of 9"},
		{args: []string{"down"}, want: "schema version 2 of 9"},
		{args: []string{"down"}, want: "schema version 1 of 9"},
		{args: []string{"down"}, want: "schema version 0 of 9"},
		{args: []string{"down"}, wantErr: "no migration is applied"},
		{args: []string{"up"}, want: "schema version 9 of 9 (current)"},
	}
	for i, s := range steps {
		out, err := migrateCmd(t, dbURL, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("step %d, migrate %v: error %v, want one containing %q", i, s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("step %d, migrate %v: output %q, error %v; want output containing %q", i, s.args, out, err, s.want)
		}
	}
}

// TestProductionWaitsForMigrations starts a production replica on an empty
// database: it must not migrate by itself, and /readyz answers 503 until
// `fireflow migrate up` has run, then 200 without a restart.
func TestProductionWaitsForMigrations(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	r := startReplica(t, dbURL)
	res, err := r.send(http.MethodGet, "/readyz", nil)
	if err != nil || res.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before migrating: %+v %v, want 503", res, err)
	}
	if out, err := migrateCmd(t, dbURL, "version"); err != nil || strings.TrimSpace(out) != "0" {
		t.Fatalf("the production server migrated on start: version %q, %v", out, err)
	}
	if _, err := migrateCmd(t, dbURL, "up"); err != nil {
		t.Fatal(err)
	}
	r.pollReady(http.StatusOK)
}
