package httpapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hostileRow is one defect found by trying the API from outside: the
// hostile request and the 4xx it must get, with the field or header the
// problem names.
type hostileRow struct {
	name    string
	method  string
	path    func(tree) string
	body    string
	headers []string // pairs; Content-Type is application/json unless set here
	status  int
	loc     string // errors[].location to find ("" checks only the status)
	msg     string // substring of that error's message
	// check, when set, looks further at the answer.
	check func(t *testing.T, res response)
}

func hostilePath(p string) func(tree) string { return func(tree) string { return p } }

// unknownKeys is a body of about 3.9 MB with n unknown keys, which once
// made a 39 MB answer.
func unknownKeys(n int) string {
	var b strings.Builder
	b.WriteString(`{"name":"x"`)
	for i := range n {
		fmt.Fprintf(&b, `,"k%d":1`, i)
	}
	b.WriteString("}")
	return b.String()
}

func hostileRows() []hostileRow {
	fws := hostilePath(firewallsPath)
	policies := func(tr tree) string { return tr.policies() }
	rules := func(tr tree) string { return tr.rules() }
	evaluate := func(tr tree) string { return tr.firewall() + "/evaluate" }
	flow := `{"protocol":"tcp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":1000,"destination_port":443}`
	return []hostileRow{
		// 1. Response amplification.
		{name: "thousands of unknown keys", method: "POST", path: fws, body: unknownKeys(60000),
			headers: []string{"Content-Type", "application/json"}, status: 400, loc: "body.k0", msg: "unknown field",
			check: func(t *testing.T, res response) {
				var p Problem
				_ = json.Unmarshal(res.Body, &p)
				if len(p.Errors) > maxBodyProblems+1 || len(res.Body) > 16<<10 {
					t.Errorf("answer of %d bytes with %d errors; want at most %d errors", len(res.Body), len(p.Errors), maxBodyProblems+1)
				}
			}},
		{name: "evaluate with many unknown keys", method: "POST", path: evaluate, body: `{"flow":` + flow + strings.Replace(unknownKeys(20000), `{"name":"x"`, "", 1),
			status: 400, loc: "body.k0", msg: "unknown field"},
		// 2. Invalid UTF-8.
		{name: "raw invalid byte", method: "POST", path: fws, body: "{\"name\":\"edge\xff\"}", status: 400, loc: "body.name", msg: "not UTF-8"},
		{name: "lone surrogate", method: "POST", path: fws, body: `{"name":"edge\ud800"}`, status: 400, loc: "body.name", msg: "lone surrogate"},
		{name: "overlong encoding", method: "POST", path: policies, body: "{\"name\":\"a\xc0\xafb\",\"priority\":1}", status: 400, loc: "body.name", msg: "not UTF-8"},
		{name: "encoded surrogate", method: "POST", path: rules, body: "{\"action\":\"allow\",\"description\":\"\xed\xa0\x80\"}", status: 400, loc: "body.description", msg: "not UTF-8"},
		{name: "invalid UTF-8 in evaluate", method: "POST", path: evaluate, body: "{\"flow\":{\"protocol\":\"tcp\",\"source_ip\":\"10.0.0.1\xff\",\"destination_ip\":\"10.0.0.2\",\"source_port\":1,\"destination_port\":2}}",
			status: 400, loc: "body.flow.source_ip", msg: "not UTF-8"},
		// 3. Duplicate keys.
		{name: "duplicate key", method: "POST", path: rules, body: `{"action":"allow","action":"deny"}`, status: 400, loc: "body.action", msg: "appears more than once"},
		{name: "duplicate label", method: "POST", path: fws, body: `{"name":"x","labels":{"env":"a","env":"b"}}`, status: 400, loc: "body.labels.env", msg: "appears more than once"},
		{name: "duplicate in evaluate", method: "POST", path: evaluate, body: `{"flow":{"protocol":"tcp","protocol":"udp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":1,"destination_port":2}}`,
			status: 400, loc: "body.flow.protocol", msg: "appears more than once"},
		{name: "duplicate by escape on PATCH", method: "PATCH", path: func(tr tree) string { return tr.firewall() }, body: `{"description":"a","descr\u0069ption":"b"}`,
			status: 400, loc: "body.description", msg: "appears more than once"},
		{name: "duplicate key in an nft import", method: "POST", path: func(tr tree) string { return tr.firewall() + "/import?format=nftables" },
			body: `{"nftables":[],"nftables":[]}`, status: 400, loc: "body.nftables", msg: "appears more than once"},
		// 4. Look-alike names.
		{name: "bidi override", method: "POST", path: fws, body: `{"name":"edge\u202e1rap"}`, status: 400, loc: "body.name", msg: "U+202E (a format character)"},
		{name: "zero-width space", method: "POST", path: policies, body: `{"name":"base\u200bline","priority":7}`, status: 400, loc: "body.name", msg: "U+200B"},
		{name: "line separator", method: "POST", path: rules, body: `{"name":"we\u2028b","action":"allow"}`, status: 400, loc: "body.name", msg: "U+2028"},
		{name: "no-break space", method: "POST", path: fws, body: `{"name":"edge\u00a0par1"}`, status: 400, loc: "body.name", msg: "separator other than the plain space"},
		{name: "decomposed twin of a name", method: "POST", path: fws, body: `{"name":"CAFE\u0301"}`, status: 409},
		// 5. Go internals in messages; integral numbers.
		{name: "fractional priority", method: "POST", path: policies, body: `{"name":"p","priority":1.5}`, status: 400, loc: "body.priority", msg: "priority must be an integer from 0 to 65535",
			check: func(t *testing.T, res response) {
				if strings.Contains(string(res.Body), "Go struct") || strings.Contains(string(res.Body), "json:") {
					t.Errorf("the answer shows Go internals: %s", res.Body)
				}
			}},
		{name: "string port in evaluate", method: "POST", path: evaluate, body: `{"flow":{"protocol":"tcp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":"1","destination_port":2}}`,
			status: 400, loc: "body.flow.source_port", msg: "flow.source_port must be an integer from 1 to 65535"},
		{name: "position as a fraction", method: "POST", path: rules, body: `{"action":"allow","position":0.5}`, status: 400, loc: "body.position", msg: "position must be an integer of at least 1"},
		// 6. Content types.
		{name: "gzip on a plain body", method: "POST", path: fws, body: `{"name":"gz"}`, headers: []string{"Content-Encoding", "gzip"}, status: 415, loc: "header.Content-Encoding"},
		{name: "charset latin1", method: "POST", path: fws, body: `{"name":"l1"}`, headers: []string{"Content-Type", "application/json; charset=iso-8859-1"}, status: 415, loc: "header.Content-Type", msg: "charset"},
		{name: "not JSON", method: "POST", path: fws, body: `name=x`, headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 415, loc: "header.Content-Type"},
		{name: "not JSON on evaluate", method: "POST", path: evaluate, body: `{"flow":` + flow + `}`, headers: []string{"Content-Type", "text/plain"}, status: 415, loc: "header.Content-Type"},
		{name: "gzip on evaluate", method: "POST", path: evaluate, body: `{"flow":` + flow + `}`, headers: []string{"Content-Encoding", "gzip"}, status: 415, loc: "header.Content-Encoding"},
		// 7. Expect: 100-continue is in TestExpectContinueTooLarge.
		// 8. Both flow and flows.
		{name: "flow and empty flows", method: "POST", path: evaluate, body: `{"flow":` + flow + `,"flows":[]}`, status: 400, loc: "body", msg: "give either flow or flows, not both"},
		{name: "flow and flows, slow path", method: "POST", path: evaluate, body: `{"flows":[],"flow":` + flow + `,"explain":false}`, status: 400, loc: "body", msg: "give either flow or flows, not both"},
		// 9. Filters.
		{name: "port function with a word", method: "GET", path: func(tr tree) string {
			return tr.rules() + "?filter=" + url.QueryEscape(`source_port_contains("x")`)
		}, status: 400, loc: "query.filter", msg: "takes a port from 1 to 65535"},
		{name: "dangling AND", method: "GET", path: func(tr tree) string {
			return tr.rules() + "?filter=" + url.QueryEscape(`action = "deny" AND`)
		}, status: 400, loc: "query.filter", msg: "ends with AND"},
		{name: "bare value with a dash", method: "GET", path: func(tr tree) string {
			return firewallsPath + "?filter=" + url.QueryEscape(`name = edge-par1`)
		}, status: 400, loc: "query.filter", msg: `put it in quotes: "edge-par1"`},
	}
}

// TestHostileRequests sends one hostile request per defect found from
// outside, to a real server on loopback, and checks the 4xx problem.
func TestHostileRequests(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	s.must(http.StatusCreated, "POST", firewallsPath, map[string]any{"name": "caf\u00e9"})
	for _, row := range hostileRows() {
		t.Run(row.name, func(t *testing.T) {
			res := s.do(row.method, row.path(tr), row.body, row.headers...)
			if row.loc == "" {
				if res.Status != row.status {
					t.Fatalf("status %d, want %d: %.300s", res.Status, row.status, res.Body)
				}
			} else {
				assertProblem(t, res, row.status, row.loc, row.msg)
			}
			if row.check != nil {
				row.check(t, res)
			}
		})
	}
}

// TestHostileAccepted checks the requests that the same rules must let
// through: integral numbers in any notation, media types in any case and
// spacing, no Content-Type at all, flat filter chains, ports as strings.
func TestHostileAccepted(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	flow := `{"flow":{"protocol":"tcp","source_ip":"10.0.0.1","destination_ip":"10.0.0.2","source_port":1000,"destination_port":443}}`
	for i, tc := range []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		field                    string
		want                     any
	}{
		{"priority 1.0", "POST", tr.policies(), `{"name":"p1","priority":1.0}`, nil, 201, "priority", 1.0},
		{"priority 1e1", "POST", tr.policies(), `{"name":"p2","priority":1e1}`, nil, 201, "priority", 10.0},
		{"upper-case media type", "POST", firewallsPath, `{"name":"up"}`, []string{"Content-Type", "APPLICATION/JSON"}, 201, "name", "up"},
		{"blanks around parameters", "POST", firewallsPath, `{"name":"sp"}`, []string{"Content-Type", "application/json ; charset=UTF-8"}, 201, "name", "sp"},
		{"identity encoding", "POST", firewallsPath, `{"name":"id"}`, []string{"Content-Encoding", "identity"}, 201, "name", "id"},
		{"no Content-Type on create", "POST", firewallsPath, `{"name":"none"}`, []string{"Content-Type", ""}, 201, "name", "none"},
		{"no Content-Type on evaluate", "POST", tr.firewall() + "/evaluate", flow, []string{"Content-Type", ""}, 200, "revision", nil},
		{"NFC on the way in", "POST", firewallsPath, `{"name":"Zu\u0308rich"}`, nil, 201, "name", "Z\u00fcrich"},
		{"flat chain of 65 ORs", "GET", firewallsPath + "?filter=" + url.QueryEscape(strings.TrimSuffix(strings.Repeat(`name = "x" OR `, 65), " OR ")), "", nil, 200, "items", nil},
		{"port as a string", "GET", tr.rules() + "?filter=" + url.QueryEscape(`destination_port_contains("443")`), "", nil, 200, "items", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := crudWith(s, t)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			got := s.must(tc.status, tc.method, tc.path, body, tc.headers...)
			if tc.want != nil && got[tc.field] != tc.want {
				t.Fatalf("%s = %v, want %v (row %d)", tc.field, got[tc.field], tc.want, i)
			}
			if _, ok := got[tc.field]; !ok {
				t.Fatalf("no %s in %v", tc.field, got)
			}
		})
	}
	// PATCH without a Content-Type once answered 200 or 415 at random.
	for i := range 40 {
		s.must(http.StatusOK, "PATCH", tr.firewall(), fmt.Sprintf(`{"description":"try %d"}`, i), "Content-Type", "")
	}
}

// TestExpectContinueTooLarge sends a request that announces a body over
// the limit and waits for 100 Continue: the server answers 413 at once,
// before the client sends a byte of it.
func TestExpectContinueTooLarge(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	for _, path := range []string{firewallsPath, tr.firewall() + "/evaluate"} {
		t.Run(path, func(t *testing.T) {
			u, _ := url.Parse(s.url)
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
				"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, u.Host, s.admin, 64<<20)
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413 before the body is sent", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("Content-Type %q, want application/problem+json", ct)
			}
		})
	}
}
