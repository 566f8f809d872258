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

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// fuzzServer is the API on loopback over a fresh SQLite file, created once
// per fuzz target (per fuzzing worker process), with a firewall, a policy
// and three rules to aim at.
type fuzzServer struct {
	url    string
	client *http.Client
	token  string
	tr     tree
	rules  []string
}

func newFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fireflow.db"))
	if err != nil {
		f.Fatalf("open store: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		f.Fatalf("migrate: %v", err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{HS256Secret: testSecret})
	if err != nil {
		f.Fatalf("verifier: %v", err)
	}
	srv := httptest.NewServer(New(service.New(db), Options{Version: "fuzz", Ready: db.Ready, Auth: verifier}))
	f.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	fs := &fuzzServer{url: srv.URL, client: srv.Client(), token: mintToken(f, "fuzz", auth.Editor)}
	mustID := func(path, body string) string {
		res := fs.do(f, "POST", path, []byte(body), "application/json")
		if res.Status != http.StatusCreated {
			f.Fatalf("POST %s: %d %s", path, res.Status, res.Body)
		}
		var m struct{ ID string }
		if err := json.Unmarshal(res.Body, &m); err != nil {
			f.Fatal(err)
		}
		return m.ID
	}
	fs.tr.FirewallID = mustID(firewallsPath, `{"name":"edge","labels":{"env":"prod"}}`)
	fs.tr.PolicyID = mustID(fs.tr.policies(), `{"name":"baseline","priority":100}`)
	mustID(fs.tr.policies(), `{"name":"other","priority":200}`)
	for _, body := range []string{
		`{"name":"web","action":"allow","protocol":"tcp","sources":["10.0.0.0/8"],"destination_ports":["443"]}`,
		`{"name":"dns","action":"allow","protocol":"udp","destination_ports":["53"]}`,
		`{"action":"deny"}`,
	} {
		fs.rules = append(fs.rules, mustID(fs.tr.rules(), body))
	}
	return fs
}

func (fs *fuzzServer) do(tb testing.TB, method, path string, body []byte, contentType string) response {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, fs.url+path, rd)
	if err != nil {
		tb.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+fs.token)
	res, err := fs.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// fuzzCheckAnswer checks what holds for every answer: never a 5xx, every
// error a complete problem, every success a JSON object. It returns the
// decoded body of a success.
func fuzzCheckAnswer(t *testing.T, what string, body []byte, res response) map[string]any {
	t.Helper()
	if res.Status >= 500 {
		t.Fatalf("BUG (non-test code): %s with body %q answered %d: %s", what, body, res.Status, res.Body)
	}
	if res.Status/100 != 2 {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s with body %q answered %d with Content-Type %q: %s", what, body, res.Status, ct, res.Body)
		}
		var p Problem
		if err := json.Unmarshal(res.Body, &p); err != nil {
			t.Fatalf("%s with body %q answered %d with a problem that does not decode (%v): %s", what, body, res.Status, err, res.Body)
		}
		if p.Status != res.Status || p.Type == "" || p.Title == "" || p.Detail == "" || p.RequestID == "" ||
			p.RequestID != res.Header.Get("X-Request-ID") {
			t.Fatalf("%s with body %q answered an incomplete problem: %s", what, body, res.Body)
		}
		return nil
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s with body %q answered %d with Content-Type %q", what, body, res.Status, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatalf("BUG (non-test code): %s with body %q answered %d with a body that is not JSON (%v): %.300s", what, body, res.Status, err, res.Body)
	}
	return m
}

// fuzzCreate posts body to collection; a created resource must read back
// equal, and is then deleted so that every input starts from the same data.
func fuzzCreate(t *testing.T, fs *fuzzServer, collection string, body []byte) {
	res := fs.do(t, "POST", collection, body, "application/json")
	created := fuzzCheckAnswer(t, "POST "+collection, body, res)
	if created == nil {
		return
	}
	if res.Status != http.StatusCreated {
		t.Fatalf("create answered %d, want 201", res.Status)
	}
	id, _ := created["id"].(string)
	if loc := res.Header.Get("Location"); id == "" || loc != collection+"/"+id {
		t.Fatalf("create answered id %q and Location %q", id, loc)
	}
	if got, want := res.Header.Get("ETag"), `"`+created["etag"].(string)+`"`; got != want {
		t.Fatalf("ETag %q, want %q", got, want)
	}
	get := fs.do(t, "GET", collection+"/"+id, nil, "")
	read := fuzzCheckAnswer(t, "GET the created resource", body, get)
	if diff := cmp.Diff(created, read); diff != "" {
		t.Fatalf("body %q: the created resource reads back differently (-create +get):\n%s", body, diff)
	}
	// The list must still encode (a stored value that cannot be encoded
	// would break every later listing).
	fuzzCheckAnswer(t, "GET the collection", body, fs.do(t, "GET", collection+"?page_size=1000", nil, ""))
	del := collection + "/" + id
	if !strings.HasSuffix(collection, "/rules") {
		del += "?cascade=true" // rules take no cascade parameter
	}
	if res := fs.do(t, "DELETE", del, nil, ""); res.Status != http.StatusNoContent {
		t.Fatalf("delete the created resource: %d %s", res.Status, res.Body)
	}
}

// fuzzPatch patches the resource at path; a successful patch must read back
// equal (except the fields in ignore), and the resource is then reset.
func fuzzPatch(t *testing.T, fs *fuzzServer, path string, body []byte, reset string, ignore ...string) {
	res := fs.do(t, "PATCH", path, body, "application/merge-patch+json")
	patched := fuzzCheckAnswer(t, "PATCH "+path, body, res)
	if patched == nil {
		return
	}
	if got, want := res.Header.Get("ETag"), `"`+patched["etag"].(string)+`"`; got != want {
		t.Fatalf("ETag %q, want %q", got, want)
	}
	read := fuzzCheckAnswer(t, "GET the patched resource", body, fs.do(t, "GET", path, nil, ""))
	for _, k := range ignore {
		delete(patched, k)
		delete(read, k)
	}
	if diff := cmp.Diff(patched, read); diff != "" {
		t.Fatalf("body %q: the patched resource reads back differently (-patch +get):\n%s", body, diff)
	}
	if r := fs.do(t, "PATCH", path, []byte(reset), "application/merge-patch+json"); r.Status != http.StatusOK {
		t.Fatalf("reset after body %q: %d %s", body, r.Status, r.Body)
	}
}

// fuzzNasty are seeds every body target starts from.
var fuzzNasty = []string{
	``, `{}`, `null`, `[]`, `"x"`, `0`, `true`, `{"":""}`, `{"a":`, `{`, `}`, "\xff\xfe{}",
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"name":"\u0000"}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"name":1e999}`, `{"name":"x","name":"y"}`,
	`{"NAME":"x"}`, `{"name":{"$gt":""}}`, `{"name":"'; DROP TABLE firewalls; --"}`, `{"labels":{"a":null}}`,
	`{"labels":{"a":{"b":"c"}}}`, `{"labels":[]}`, `{"priority":1e20}`, `{"priority":-0}`, `{"priority":1.0}`,
	`{"priority":9223372036854775808}`, `{"position":-9223372036854775808}`, `{"enabled":null}`, `{"description":null}`,
	`{"expires_at":"0001-01-01T00:00:00Z"}`, `{"expires_at":"2030-01-01T00:00:00+01:00"}`, `{"expires_at":"9999-12-31T23:00:00Z"}`,
	`{"sources":[null]}`, `{"sources":[""]}`, `{"destination_ports":["-"]}`, `{"destination_ports":["01"]}`,
}

func fuzzAddSeeds(f *testing.F, seeds ...string) {
	for _, s := range append(seeds, fuzzNasty...) {
		f.Add([]byte(s))
	}
}

func FuzzCreateFirewallBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{"name":"core"}`,
		`{"name":"core","description":"d","labels":{"env":"prod","example.com/site":"par1"},"default_action":"allow"}`,
		`{"name":"EDGE"}`, `{"name":" core"}`, `{"name":"core","default_action":"next"}`,
		`{"name":"core","labels":{"-x":"y"}}`, `{"name":"core","colour":"red"}`,
		`{"name":"`+strings.Repeat("é", 255)+`"}`, `{"name":"`+strings.Repeat("é", 256)+`"}`,
	)
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCreate(t, fs, firewallsPath, body)
	})
}

func FuzzPatchFirewallBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{"description":"x"}`, `{"labels":{"env":"staging","site":"par1"}}`, `{"labels":{"env":null}}`, `{"labels":null}`,
		`{"default_action":null}`, `{"default_action":"allow"}`, `{"name":"renamed"}`, `{"name":null}`, `{"revision":9}`,
		`{"name":"edge","description":"d","labels":{"a":"b"},"default_action":"deny"}`,
	)
	fs := newFuzzServer(f)
	const reset = `{"name":"edge","description":null,"labels":null,"default_action":null}`
	f.Fuzz(func(t *testing.T, body []byte) {
		// The revision is left out of the comparison: a PATCH answers a
		// revision it never stores (see TestCRUDFirewallPatchRaisesRevision).
		fuzzPatch(t, fs, fs.tr.firewall(), body, reset, "revision")
	})
}

func FuzzCreatePolicyBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{"name":"p","priority":1}`, `{"name":"p","priority":0,"default_action":"deny","enabled":false,"description":"d"}`,
		`{"name":"p","priority":100}`, `{"name":"Baseline","priority":5}`, `{"name":"p","priority":65536}`,
		`{"name":"p","priority":"1"}`, `{"name":"p","priority":1,"default_action":"reject"}`,
	)
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCreate(t, fs, fs.tr.policies(), body)
	})
}

func FuzzPatchPolicyBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{"priority":5}`, `{"priority":200}`, `{"name":"other"}`, `{"enabled":false}`, `{"enabled":null}`,
		`{"default_action":"deny"}`, `{"default_action":null}`, `{"priority":null}`, `{"firewall_id":"x"}`,
	)
	fs := newFuzzServer(f)
	const reset = `{"name":"baseline","description":null,"priority":100,"default_action":null,"enabled":null}`
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzPatch(t, fs, fs.tr.policy(), body, reset)
	})
}

func FuzzCreateRuleBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{"action":"allow"}`,
		`{"name":"r","description":"d","position":1,"action":"deny","protocol":"tcp","sources":["10.0.0.0/8","2001:db8::/32"],`+
			`"destinations":["192.0.2.10"],"source_ports":["1024-65535"],"destination_ports":["443","8443-8444"],`+
			`"enabled":false,"expires_at":"2030-01-01T00:00:00Z"}`,
		`{"action":"allow","position":4}`, `{"action":"allow","position":5}`, `{"action":"reject","protocol":"icmpv6"}`,
		`{"action":"allow","sources":["10.0.0.1/8"]}`, `{"action":"allow","sources":["::ffff:10.0.0.1"]}`,
		`{"action":"allow","sources":["fe80::1%eth0"]}`, `{"action":"allow","protocol":"icmp","destination_ports":["80"]}`,
		`{"action":"allow","protocol":"udp","destination_ports":["0","65536","2000-1000","1-65535"]}`,
		`{"action":"allow","sources":["10.0.0.0/8","10.0.0.0/8"]}`, `{"action":"allow","name":"WEB"}`,
		`{"action":"allow","destination_ports":[443]}`, `{"action":"allow","sources":"10.0.0.0/8"}`,
	)
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzCreate(t, fs, fs.tr.rules(), body)
		// Whatever happened, the policy's positions are still 1..3.
		fuzzRulePositions(t, fs, body)
	})
}

func FuzzPatchRuleBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{"action":"deny"}`, `{"sources":["172.16.0.0/12"]}`, `{"sources":null}`, `{"destination_ports":["22","8000-8080"]}`,
		`{"protocol":"icmp"}`, `{"protocol":"icmp","destination_ports":null}`, `{"protocol":null,"destination_ports":[]}`,
		`{"name":null}`, `{"name":"dns"}`, `{"position":2}`, `{"expires_at":null}`, `{"expires_at":"2031-01-01T00:00:00Z"}`,
		`{"enabled":false}`, `{"ACTION":"deny"}`,
	)
	fs := newFuzzServer(f)
	const reset = `{"name":"web","description":null,"action":"allow","protocol":"tcp","sources":["10.0.0.0/8"],` +
		`"destinations":null,"source_ports":null,"destination_ports":["443"],"enabled":null,"expires_at":null}`
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzPatch(t, fs, fs.tr.rules()+"/"+fs.rules[0], body, reset)
		fuzzRulePositions(t, fs, body)
	})
}

func FuzzMoveRuleBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{"position":1}`, `{"position":3}`, `{"position":4}`, `{"position":0}`, `{"before":"x"}`, `{"after":""}`,
		`{"position":2,"before":"x"}`,
	)
	fs := newFuzzServer(f)
	// Seeds that name the other rules by id.
	for _, id := range fs.rules {
		f.Add([]byte(`{"before":"` + id + `"}`))
		f.Add([]byte(`{"after":"` + id + `"}`))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		path := fs.tr.rules() + "/" + fs.rules[1] + "/move"
		res := fs.do(t, "POST", path, body, "application/json")
		if moved := fuzzCheckAnswer(t, "POST "+path, body, res); moved != nil {
			if res.Status != http.StatusOK {
				t.Fatalf("move answered %d, want 200", res.Status)
			}
			read := fuzzCheckAnswer(t, "GET the moved rule", body, fs.do(t, "GET", fs.tr.rules()+"/"+fs.rules[1], nil, ""))
			if diff := cmp.Diff(moved, read); diff != "" {
				t.Fatalf("body %q: the moved rule reads back differently (-move +get):\n%s", body, diff)
			}
		}
		fuzzRulePositions(t, fs, body)
	})
}

// fuzzRulePositions checks that the policy still holds exactly its three
// rules at positions 1..3.
func fuzzRulePositions(t *testing.T, fs *fuzzServer, body []byte) {
	t.Helper()
	res := fs.do(t, "GET", fs.tr.rules()+"?page_size=1000", nil, "")
	var page Page[Rule]
	if res.Status != http.StatusOK || json.Unmarshal(res.Body, &page) != nil {
		t.Fatalf("BUG (non-test code): after body %q the policy's rules no longer list: %d %.300s", body, res.Status, res.Body)
	}
	seen := map[string]bool{}
	for i, r := range page.Items {
		if r.Position != i+1 {
			t.Fatalf("after body %q rule %s is at position %d, listed %d", body, r.ID, r.Position, i+1)
		}
		seen[r.ID] = true
	}
	if len(page.Items) != len(fs.rules) {
		t.Fatalf("after body %q the policy holds %d rules, want %d", body, len(page.Items), len(fs.rules))
	}
	for _, id := range fs.rules {
		if !seen[id] {
			t.Fatalf("after body %q rule %s is gone", body, id)
		}
	}
}
