package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/pgtest"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store"
	"github.com/fireflow/fireflow/internal/store/postgres"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// testServer is the whole API over real HTTP on loopback, backed by a
// fresh SQLite file unless made by newTestServerOn.
type testServer struct {
	t      *testing.T
	url    string
	api    huma.API
	routes []string
	http   *http.Client
	dbPath string // the SQLite file, "" on another store
	// admin is sent as the bearer token unless a request sets its own
	// Authorization header ("" to send none).
	admin string
}

// testStore is a migrated store the server can run on.
type testStore interface {
	store.Store
	Ready(ctx context.Context) error
	Close() error
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "fireflow.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s := newTestServerOn(t, db)
	s.dbPath = dbPath
	return s
}

// newPostgresTestServer is newTestServer on a fresh PostgreSQL database.
func newPostgresTestServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return newTestServerOn(t, db)
}

// newTestServerOn serves the API from db, which it closes at the end.
func newTestServerOn(t *testing.T, db testStore) *testServer {
	t.Helper()
	verifier, err := auth.NewVerifier(context.Background(), auth.Config{HS256Secret: testSecret})
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	h, humaAPI, routes := build(service.New(db), Options{Version: "test", Ready: db.Ready, Auth: verifier})
	srv := httptest.NewServer(h) // binds 127.0.0.1
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return &testServer{t: t, url: srv.URL, api: humaAPI, routes: routes, http: srv.Client(),
		admin: mintToken(t, "test-admin", auth.Admin)}
}

// TestMain starts the PostgreSQL cluster of the tests that run on both stores.
func TestMain(m *testing.M) { pgtest.Main(m) }

// testSecret signs the tokens of the test servers.
var testSecret = []byte("fireflow-test-secret-0123456789abcdef")

// mintToken returns a token for sub holding role ("" for no role at all).
func mintToken(t testing.TB, sub string, role auth.Role) string {
	t.Helper()
	var roles []string
	if role != "" {
		roles = []string{string(role)}
	}
	tok, err := auth.Mint(testSecret, sub, roles, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatalf("mint token: %v", err)
	}
	return tok
}

// response is what a request got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return m
}

// do sends a request. body may be nil, a string (sent as is) or any value
// (sent as JSON). Headers come in pairs.
func (s *testServer) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			s.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatalf("new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+s.admin)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatalf("read body: %v", err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// must sends a request and fails the test unless the status is want.
func (s *testServer) must(want int, method, path string, body any, headers ...string) map[string]any {
	s.t.Helper()
	res := s.do(method, path, body, headers...)
	if res.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, want, res.Body)
	}
	if len(res.Body) == 0 {
		return nil
	}
	return res.JSON(s.t)
}

// tree is a firewall with one policy, made for a test.
type tree struct {
	FirewallID, PolicyID string
}

func (tr tree) firewall() string { return "/api/v1/firewalls/" + tr.FirewallID }
func (tr tree) policies() string { return tr.firewall() + "/filtering-policies" }
func (tr tree) policy() string   { return tr.policies() + "/" + tr.PolicyID }
func (tr tree) rules() string    { return tr.policy() + "/rules" }

// newTree creates a firewall and a policy in it.
func (s *testServer) newTree(name string) tree {
	s.t.Helper()
	fw := s.must(http.StatusCreated, "POST", "/api/v1/firewalls", map[string]any{"name": name})
	tr := tree{FirewallID: fw["id"].(string)}
	p := s.must(http.StatusCreated, "POST", tr.policies(), map[string]any{"name": "baseline", "priority": 100})
	tr.PolicyID = p["id"].(string)
	return tr
}

// newRule creates a rule and returns its id.
func (s *testServer) newRule(tr tree, body map[string]any) string {
	s.t.Helper()
	if body == nil {
		body = map[string]any{"action": "allow"}
	}
	return s.must(http.StatusCreated, "POST", tr.rules(), body)["id"].(string)
}

// positions lists the rules of a policy as "position:id".
func (s *testServer) ruleIDs(tr tree) []string {
	s.t.Helper()
	page := s.must(http.StatusOK, "GET", tr.rules()+"?page_size=1000", nil)
	var ids []string
	for i, item := range page["items"].([]any) {
		r := item.(map[string]any)
		if int(r["position"].(float64)) != i+1 {
			s.t.Fatalf("rule %d has position %v: positions are not 1..n", i, r["position"])
		}
		ids = append(ids, r["id"].(string))
	}
	return ids
}

// assertProblem checks that res is a problem+json with the status, and, if
// location is set, a field error there whose message contains msg.
func assertProblem(t *testing.T, res response, status int, location, msg string) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p Problem
	if err := json.Unmarshal(res.Body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", res.Body, err)
	}
	if p.Status != status || p.Title == "" || p.Detail == "" || p.Type == "" || p.RequestID == "" {
		t.Fatalf("incomplete problem: %s", res.Body)
	}
	if p.RequestID != res.Header.Get("X-Request-ID") {
		t.Fatalf("problem request_id %q differs from X-Request-ID %q", p.RequestID, res.Header.Get("X-Request-ID"))
	}
	if location == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Location == location && strings.Contains(e.Message, msg) {
			return
		}
	}
	t.Fatalf("no error at %q containing %q in %s", location, msg, res.Body)
}
