package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/store"
)

// badFixture is the data every bad-input row starts from: firewall "edge"
// with policy "baseline" (priority 100) holding rules "web" (tcp/443),
// "second" and an unnamed one, and policy "other" (priority 200) holding
// one rule; and a second, empty firewall "core".
type badFixture struct {
	tr        tree
	rules     [3]string
	other     string // the "other" policy's id
	otherRule string
	core      string // the "core" firewall's id
}

func (fx badFixture) rule(i int) string { return fx.tr.rules() + "/" + fx.rules[i] }
func (fx badFixture) move(i int) string { return fx.rule(i) + "/move" }
func (fx badFixture) otherRules() string {
	return fx.tr.policies() + "/" + fx.other + "/rules"
}

func newBadFixture(s *testServer) badFixture {
	s.t.Helper()
	fx := badFixture{tr: s.newTree("edge")}
	fx.rules[0] = s.newRule(fx.tr, map[string]any{"name": "web", "action": "allow", "protocol": "tcp",
		"sources": []string{"10.0.0.0/8"}, "destination_ports": []string{"443"}})
	fx.rules[1] = s.newRule(fx.tr, map[string]any{"name": "second", "action": "deny"})
	fx.rules[2] = s.newRule(fx.tr, map[string]any{"action": "reject"})
	fx.other = s.must(http.StatusCreated, "POST", fx.tr.policies(), map[string]any{"name": "other", "priority": 200})["id"].(string)
	fx.otherRule = s.must(http.StatusCreated, "POST", fx.otherRules(), map[string]any{"action": "allow"})["id"].(string)
	fx.core = s.must(http.StatusCreated, "POST", firewallsPath, map[string]any{"name": "core"})["id"].(string)
	return fx
}

// badSnapshot reads everything stored, as raw response bodies, so that a
// row can check that a refused request wrote nothing: counts, revisions,
// etags, positions and every field.
func badSnapshot(s *testServer) map[string]string {
	s.t.Helper()
	snap := map[string]string{}
	get := func(path string) []byte {
		res := s.do("GET", path, nil)
		snap[path] = fmt.Sprintf("%d %s", res.Status, res.Body)
		return res.Body
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	decode := func(b []byte) []string {
		page.Items = nil
		if err := json.Unmarshal(b, &page); err != nil {
			return nil // recorded raw; a difference still shows
		}
		var ids []string
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		return ids
	}
	for _, fw := range decode(get(firewallsPath + "?page_size=1000")) {
		get(firewallsPath + "/" + fw)
		pols := firewallsPath + "/" + fw + "/filtering-policies"
		for _, p := range decode(get(pols + "?page_size=1000")) {
			for _, r := range decode(get(pols + "/" + p + "/rules?page_size=1000")) {
				get(pols + "/" + p + "/rules/" + r)
			}
		}
	}
	return snap
}

// badRow is one bad request and the problem it must answer.
type badRow struct {
	name    string
	method  string
	path    func(badFixture) string
	body    any      // nil: no body; string: sent as is; otherwise JSON
	headers []string // pairs; Content-Type is application/json unless set here
	status  int
	loc     string // the errors[].location to find; "" checks the detail instead
	msg     string // substring of that error's message, or of the detail
}

func badPath(p string) func(badFixture) string { return func(badFixture) string { return p } }

func badLabels(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("k%d", i)] = "v"
	}
	return m
}

func badCIDRs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
	}
	return out
}

func badPorts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(1000 + i)
	}
	return out
}

const (
	badStaleETag = `"0000000000000000"`
)

var badOneMiB = strings.Repeat("a", 1<<20)

// badRows covers the three resources and the move action.
var badRows = []badRow{
	// Firewalls: create.
	{name: "firewall name as number", method: "POST", path: badPath(firewallsPath), body: `{"name":42}`,
		status: 400, loc: "body.name", msg: "name must be a string"},
	{name: "firewall unknown field", method: "POST", path: badPath(firewallsPath), body: `{"name":"x","colour":"red"}`,
		status: 400, loc: "body.colour", msg: "unknown field"},
	{name: "firewall malformed JSON", method: "POST", path: badPath(firewallsPath), body: `{"name":"x"`,
		status: 400, loc: "body", msg: "it ends too soon"},
	{name: "firewall trailing comma", method: "POST", path: badPath(firewallsPath), body: `{"name":"x",}`,
		status: 400, loc: "body", msg: "not valid JSON"},
	{name: "firewall empty body", method: "POST", path: badPath(firewallsPath), body: ``,
		status: 400, msg: "request body is required"},
	{name: "firewall JSON array", method: "POST", path: badPath(firewallsPath), body: `[{"name":"x"}]`,
		status: 400, loc: "body", msg: "the body must be an object"},
	{name: "firewall JSON null", method: "POST", path: badPath(firewallsPath), body: `null`,
		status: 400, loc: "body", msg: "the body must be an object"},
	{name: "firewall body over 1 MiB", method: "POST", path: badPath(firewallsPath), body: `{"name":"x","description":"` + badOneMiB + `"}`,
		status: 413, msg: "too large"},
	{name: "firewall wrong Content-Type", method: "POST", path: badPath(firewallsPath), body: `{"name":"x"}`,
		headers: []string{"Content-Type", "text/plain"}, status: 415, msg: "JSON"},
	{name: "firewall blank name", method: "POST", path: badPath(firewallsPath), body: map[string]any{"name": ""},
		status: 400, loc: "body.name", msg: "expected length >= 1"},
	{name: "firewall name of blanks", method: "POST", path: badPath(firewallsPath), body: map[string]any{"name": "   "},
		status: 400, loc: "body.name", msg: "must not start or end with blanks"},
	{name: "firewall name with leading blank", method: "POST", path: badPath(firewallsPath), body: map[string]any{"name": " edge-2"},
		status: 400, loc: "body.name", msg: "must not start or end with blanks"},
	{name: "firewall name with trailing tab", method: "POST", path: badPath(firewallsPath), body: map[string]any{"name": "edge-2\t"},
		status: 400, loc: "body.name", msg: "must not start or end with blanks"},
	{name: "firewall name with control character", method: "POST", path: badPath(firewallsPath), body: map[string]any{"name": "a\u0007b"},
		status: 400, loc: "body.name", msg: "control characters"},
	{name: "firewall name over 255", method: "POST", path: badPath(firewallsPath), body: map[string]any{"name": strings.Repeat("n", 256)},
		status: 400, loc: "body.name", msg: "expected length <= 255"},
	{name: "firewall name over 255 runes", method: "POST", path: badPath(firewallsPath), body: map[string]any{"name": strings.Repeat("é", 256)},
		status: 400, loc: "body.name", msg: "expected length <= 255"},
	{name: "firewall description over 1024", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "description": strings.Repeat("d", 1025)}, status: 400, loc: "body.description", msg: "expected length <= 1024"},
	{name: "firewall bad label key", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "labels": map[string]string{"-env": "prod"}}, status: 400, loc: "body.labels.-env", msg: "label key"},
	{name: "firewall label key with uppercase prefix", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "labels": map[string]string{"Example.com/env": "prod"}}, status: 400, loc: "body.labels.Example.com/env", msg: "prefix"},
	{name: "firewall label key name over 63", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "labels": map[string]string{strings.Repeat("k", 64): "v"}}, status: 400, loc: "body.labels." + strings.Repeat("k", 64), msg: "longer than 63"},
	{name: "firewall bad label value", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "labels": map[string]string{"env": "prod eu"}}, status: 400, loc: "body.labels.env", msg: "label value"},
	{name: "firewall label value over 63", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "labels": map[string]string{"env": strings.Repeat("v", 64)}}, status: 400, loc: "body.labels.env", msg: "longer than 63"},
	{name: "firewall 65 labels", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "labels": badLabels(65)}, status: 400, loc: "body.labels", msg: "64"},
	{name: "firewall label value as number", method: "POST", path: badPath(firewallsPath),
		body: `{"name":"x","labels":{"env":1}}`, status: 400, loc: "body.labels.env", msg: "labels.env must be a string"},
	{name: "firewall default_action next", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "default_action": "next"}, status: 400, loc: "body.default_action", msg: "one of"},
	{name: "firewall default_action reject", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "x", "default_action": "reject"}, status: 400, loc: "body.default_action", msg: "one of"},
	{name: "firewall duplicate name in other case", method: "POST", path: badPath(firewallsPath),
		body: map[string]any{"name": "EDGE"}, status: 409, loc: "body.name", msg: "already exists"},

	// Firewalls: patch, get, delete, list.
	{name: "patch firewall unknown field", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"colour":"red"}`, status: 400, loc: "body.colour", msg: "unknown field"},
	{name: "patch firewall read-only field", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"revision":7}`, status: 400, loc: "body.revision", msg: "unknown field"},
	{name: "patch firewall field in other case", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"NAME":"renamed"}`, status: 400, loc: "body.NAME", msg: "unknown field"},
	{name: "patch rule field in other case", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"ACTION":"deny"}`, status: 400, loc: "body.ACTION", msg: "unknown field"},
	{name: "patch firewall null name", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"name":null}`, status: 400, loc: "body.name", msg: ""},
	{name: "patch firewall blank name", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"name":""}`, status: 400, loc: "body.name", msg: "expected length >= 1"},
	{name: "patch firewall default_action next", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"default_action":"next"}`, status: 400, loc: "body.default_action", msg: "one of"},
	{name: "patch firewall bad label value", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"labels":{"env":"a b"}}`, status: 400, loc: "body.labels.env", msg: "label value"},
	{name: "patch firewall to a taken name", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"name":"Core"}`, status: 409, loc: "body.name", msg: "already exists"},
	{name: "patch firewall stale If-Match", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"description":"x"}`, headers: []string{"If-Match", badStaleETag}, status: 412, msg: "has changed"},
	{name: "patch firewall JSON array", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `[]`, status: 400, loc: "body", msg: "the body must be an object"},
	{name: "patch firewall malformed JSON", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"description":`, status: 400, loc: "body", msg: "JSON"},
	{name: "patch firewall empty body", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: ``, status: 400, msg: "request body is required"},
	{name: "patch firewall wrong Content-Type", method: "PATCH", path: func(fx badFixture) string { return fx.tr.firewall() },
		body: `{"description":"x"}`, headers: []string{"Content-Type", "application/xml"}, status: 415, msg: "JSON"},
	{name: "patch firewall missing", method: "PATCH", path: badPath(firewallsPath + "/01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f"),
		body: `{"description":"x"}`, status: 404, msg: "firewall"},
	{name: "get firewall malformed id", method: "GET", path: badPath(firewallsPath + "/not-a-uuid"),
		status: 404, msg: `firewall "not-a-uuid" not found`},
	{name: "get firewall id with quotes", method: "GET", path: badPath(firewallsPath + "/x%27%20OR%20%271%27=%271"),
		status: 404, msg: "firewall"},
	{name: "get firewall id over 64 characters", method: "GET", path: badPath(firewallsPath + "/" + strings.Repeat("f", 65)),
		status: 400, loc: "path.firewall_id", msg: "expected length <= 64"},
	{name: "delete firewall with children", method: "DELETE", path: func(fx badFixture) string { return fx.tr.firewall() },
		status: 409, msg: "cascade"},
	{name: "delete firewall stale If-Match", method: "DELETE", path: func(fx badFixture) string { return fx.tr.firewall() + "?cascade=true" },
		headers: []string{"If-Match", badStaleETag}, status: 412, msg: "has changed"},
	{name: "delete firewall bad cascade", method: "DELETE", path: func(fx badFixture) string { return fx.tr.firewall() + "?cascade=maybe" },
		status: 400, loc: "query.cascade", msg: ""},
	{name: "list firewalls bad page_token", method: "GET", path: badPath(firewallsPath + "?page_token=bm90LWEtdG9rZW4"),
		status: 400, loc: "query.page_token", msg: "not one this service issued"},
	{name: "list firewalls page_size 0", method: "GET", path: badPath(firewallsPath + "?page_size=0"),
		status: 400, loc: "query.page_size", msg: ">= 1"},
	{name: "list firewalls page_size 1001", method: "GET", path: badPath(firewallsPath + "?page_size=1001"),
		status: 400, loc: "query.page_size", msg: "<= 1000"},
	{name: "list firewalls page_size not a number", method: "GET", path: badPath(firewallsPath + "?page_size=ten"),
		status: 400, loc: "query.page_size", msg: ""},
	{name: "list firewalls unknown query parameter", method: "GET", path: badPath(firewallsPath + "?colour=red"),
		status: 400, loc: "query.colour", msg: "unknown query parameter"},

	{name: "list firewalls filter unknown field", method: "GET", path: badPath(firewallsPath + "?filter=" + url.QueryEscape(`colour = "red"`)),
		status: 400, loc: "query.filter", msg: `at character 1: unknown field "colour"`},
	{name: "list firewalls filter syntax error", method: "GET", path: badPath(firewallsPath + "?filter=" + url.QueryEscape(`(name = "edge"`)),
		status: 400, loc: "query.filter", msg: "at character 15: expected )"},
	{name: "list firewalls filter type mismatch", method: "GET", path: badPath(firewallsPath + "?filter=" + url.QueryEscape(`revision = "high"`)),
		status: 400, loc: "query.filter", msg: "at character 12: revision is an integer"},
	{name: "list firewalls filter bad enum", method: "GET", path: badPath(firewallsPath + "?filter=" + url.QueryEscape(`default_action = "next"`)),
		status: 400, loc: "query.filter", msg: "default_action is one of allow, deny"},
	{name: "list firewalls filter over 2 KB", method: "GET", path: badPath(firewallsPath + "?filter=" + url.QueryEscape(strings.Repeat(`name = "x" OR `, 150)+`name = "y"`)),
		status: 400, loc: "query.filter", msg: "at most 2048"},
	{name: "list firewalls filter rule function", method: "GET", path: badPath(firewallsPath + "?filter=" + url.QueryEscape(`source_contains("10.0.0.1")`)),
		status: 400, loc: "query.filter", msg: `unknown function "source_contains"`},
	{name: "list firewalls order_by unknown field", method: "GET", path: badPath(firewallsPath + "?order_by=colour"),
		status: 400, loc: "query.order_by", msg: `cannot order firewalls by "colour"; order_by accepts id, created_at, updated_at, name`},
	{name: "list firewalls order_by bad direction", method: "GET", path: badPath(firewallsPath + "?order_by=" + url.QueryEscape("name up")),
		status: 400, loc: "query.order_by", msg: "asc or desc"},
	{name: "list firewalls order_by labels", method: "GET", path: badPath(firewallsPath + "?order_by=labels"),
		status: 400, loc: "query.order_by", msg: `cannot order firewalls by "labels"`},
	{name: "list policies filter bad boolean", method: "GET", path: func(fx badFixture) string { return fx.tr.policies() + "?filter=" + url.QueryEscape("enabled = maybe") },
		status: 400, loc: "query.filter", msg: "at character 11: enabled is a boolean; expected true or false"},
	{name: "list rules filter bad CIDR", method: "GET", path: func(fx badFixture) string {
		return fx.tr.rules() + "?filter=" + url.QueryEscape(`source_overlaps("10.0.0.0/33")`)
	},
		status: 400, loc: "query.filter", msg: "at character 17:"},
	{name: "list rules filter host bits in has", method: "GET", path: func(fx badFixture) string {
		return fx.tr.rules() + "?filter=" + url.QueryEscape(`sources:"10.0.0.1/8"`)
	},
		status: 400, loc: "query.filter", msg: "did you mean 10.0.0.0/8?"},
	{name: "list rules filter port out of range", method: "GET", path: func(fx badFixture) string {
		return fx.tr.rules() + "?filter=" + url.QueryEscape(`destination_port_contains(0)`)
	},
		status: 400, loc: "query.filter", msg: "1 to 65535"},
	{name: "list rules filter bad timestamp", method: "GET", path: func(fx badFixture) string {
		return fx.tr.rules() + "?filter=" + url.QueryEscape(`expires_at < "tomorrow"`)
	},
		status: 400, loc: "query.filter", msg: "RFC 3339"},
	{name: "list rules order_by expires_at", method: "GET", path: func(fx badFixture) string { return fx.tr.rules() + "?order_by=expires_at" },
		status: 400, loc: "query.order_by", msg: `cannot order rules by "expires_at"`},
	{name: "list rules token with another filter", method: "GET", path: func(fx badFixture) string {
		return fx.tr.rules() + "?filter=enabled&page_token=" + store.EncodeCursor(store.NewCursor("other", []any{int64(1), "x"}))
	}, status: 400, loc: "query.page_token", msg: "different filter or order_by"},
	{name: "list audit events filter unknown field", method: "GET", path: badPath("/api/v1/audit-events?filter=" + url.QueryEscape(`who = "alice"`)),
		status: 400, loc: "query.filter", msg: `unknown field "who"`},

	// Filtering policies.
	{name: "policy in missing firewall", method: "POST", path: badPath(firewallsPath + "/nope/filtering-policies"),
		body: map[string]any{"name": "p", "priority": 1}, status: 404, msg: `firewall "nope" not found`},
	{name: "policy priority as string", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":"1"}`, status: 400, loc: "body.priority", msg: "priority must be an integer from 0 to 65535"},
	{name: "policy priority fractional", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":1.5}`, status: 400, loc: "body.priority", msg: "integer"},
	{name: "policy priority -1", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":-1}`, status: 400, loc: "body.priority", msg: "priority must be an integer from 0 to 65535"},
	{name: "policy priority 65536", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":65536}`, status: 400, loc: "body.priority", msg: "priority must be an integer from 0 to 65535"},
	{name: "policy priority missing", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p"}`, status: 400, loc: "body", msg: "priority"},
	{name: "policy enabled as string", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":1,"enabled":"true"}`, status: 400, loc: "body.enabled", msg: "enabled must be true or false"},
	{name: "policy default_action reject", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":1,"default_action":"reject"}`, status: 400, loc: "body.default_action", msg: "one of"},
	{name: "policy unknown field", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":1,"rules":[]}`, status: 400, loc: "body.rules", msg: "unknown field"},
	{name: "policy name with trailing blank", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p ","priority":1}`, status: 400, loc: "body.name", msg: "must not start or end with blanks"},
	{name: "policy duplicate name", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"BaseLine","priority":1}`, status: 409, loc: "body.name", msg: "already exists"},
	{name: "policy priority clash", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() },
		body: `{"name":"p","priority":100}`, status: 409, loc: "body.priority", msg: "already used"},
	{name: "patch policy null name", method: "PATCH", path: func(fx badFixture) string { return fx.tr.policy() },
		body: `{"name":null}`, status: 400, loc: "body.name", msg: ""},
	{name: "patch policy null priority", method: "PATCH", path: func(fx badFixture) string { return fx.tr.policy() },
		body: `{"priority":null}`, status: 400, loc: "body.priority", msg: ""},
	{name: "patch policy priority clash", method: "PATCH", path: func(fx badFixture) string { return fx.tr.policy() },
		body: `{"priority":200}`, status: 409, loc: "body.priority", msg: "already used"},
	{name: "patch policy to a taken name", method: "PATCH", path: func(fx badFixture) string { return fx.tr.policy() },
		body: `{"name":"OTHER"}`, status: 409, loc: "body.name", msg: "already exists"},
	{name: "patch policy unknown field", method: "PATCH", path: func(fx badFixture) string { return fx.tr.policy() },
		body: `{"firewall_id":"x"}`, status: 400, loc: "body.firewall_id", msg: "unknown field"},
	{name: "patch policy default_action reject", method: "PATCH", path: func(fx badFixture) string { return fx.tr.policy() },
		body: `{"default_action":"reject"}`, status: 400, loc: "body.default_action", msg: "one of"},
	{name: "patch policy stale If-Match", method: "PATCH", path: func(fx badFixture) string { return fx.tr.policy() },
		body: `{"description":"x"}`, headers: []string{"If-Match", badStaleETag}, status: 412, msg: "has changed"},
	{name: "delete policy with rules", method: "DELETE", path: func(fx badFixture) string { return fx.tr.policy() },
		status: 409, msg: "cascade"},
	{name: "delete policy stale If-Match", method: "DELETE", path: func(fx badFixture) string { return fx.tr.policy() + "?cascade=true" },
		headers: []string{"If-Match", badStaleETag}, status: 412, msg: "has changed"},
	{name: "get policy through another firewall", method: "GET",
		path: func(fx badFixture) string {
			return firewallsPath + "/" + fx.core + "/filtering-policies/" + fx.tr.PolicyID
		},
		status: 404, msg: "filtering policy"},
	{name: "list policies of missing firewall", method: "GET", path: badPath(firewallsPath + "/nope/filtering-policies"),
		status: 404, msg: `firewall "nope" not found`},
	{name: "list policies page_size 1001", method: "GET", path: func(fx badFixture) string { return fx.tr.policies() + "?page_size=1001" },
		status: 400, loc: "query.page_size", msg: "<= 1000"},

	// Rules: create.
	{name: "rule in missing firewall", method: "POST",
		path: func(fx badFixture) string {
			return firewallsPath + "/nope/filtering-policies/" + fx.tr.PolicyID + "/rules"
		},
		body: `{"action":"allow"}`, status: 404, msg: `firewall "nope" not found`},
	{name: "rule in missing policy", method: "POST", path: func(fx badFixture) string { return fx.tr.policies() + "/nope/rules" },
		body: `{"action":"allow"}`, status: 404, msg: `filtering policy "nope" not found`},
	{name: "rule in policy of another firewall", method: "POST",
		path: func(fx badFixture) string {
			return firewallsPath + "/" + fx.core + "/filtering-policies/" + fx.tr.PolicyID + "/rules"
		},
		body: `{"action":"allow"}`, status: 404, msg: "filtering policy"},
	{name: "rule action missing", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{}`, status: 400, loc: "body", msg: "action"},
	{name: "rule action invalid", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"drop"}`, status: 400, loc: "body.action", msg: "one of"},
	{name: "rule protocol invalid", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"sctp"}`, status: 400, loc: "body.protocol", msg: "one of"},
	{name: "rule sources as string", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","sources":"10.0.0.0/8"}`, status: 400, loc: "body.sources", msg: "sources must be a list"},
	{name: "rule ports as numbers", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"tcp","destination_ports":[443]}`, status: 400, loc: "body.destination_ports[0]", msg: "destination_ports[0] must be a string"},
	{name: "rule enabled as string", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","enabled":"yes"}`, status: 400, loc: "body.enabled", msg: "enabled must be true or false"},
	{name: "rule unknown field", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","source":"10.0.0.0/8"}`, status: 400, loc: "body.source", msg: "unknown field"},
	{name: "rule bad CIDR length", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","sources":["10.0.0.0/33"]}`, status: 400, loc: "body.sources[0]", msg: "not a valid CIDR"},
	{name: "rule not an address", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","destinations":["example.com"]}`, status: 400, loc: "body.destinations[0]", msg: "not an IPv4 or IPv6"},
	{name: "rule IPv4 CIDR with host bits", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","destinations":["192.0.2.0/24","192.168.1.1/24"]}`, status: 400, loc: "body.destinations[1]",
		msg: "192.168.1.1/24 has host bits set; did you mean 192.168.1.0/24?"},
	{name: "rule IPv6 CIDR with host bits", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","sources":["2001:db8::1/32"]}`, status: 400, loc: "body.sources[0]", msg: "has host bits set; did you mean"},
	{name: "rule IPv4-mapped IPv6", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","sources":["::ffff:10.0.0.1"]}`, status: 400, loc: "body.sources[0]", msg: "IPv4-mapped"},
	{name: "rule IPv6 zone", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","sources":["fe80::1%eth0"]}`, status: 400, loc: "body.sources[0]", msg: "zone"},
	{name: "rule ports with icmp", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"icmp","destination_ports":["80"]}`, status: 400, loc: "body.destination_ports",
		msg: "only allowed with protocol tcp or udp"},
	{name: "rule ports with protocol any", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","source_ports":["80"]}`, status: 400, loc: "body.source_ports", msg: "only allowed with protocol tcp or udp"},
	{name: "rule port 0", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"tcp","destination_ports":["0"]}`, status: 400, loc: "body.destination_ports[0]", msg: "out of range"},
	{name: "rule port 65536", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"udp","destination_ports":["65536"]}`, status: 400, loc: "body.destination_ports[0]", msg: "out of range"},
	{name: "rule range ending at 65536", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"udp","source_ports":["1024-65536"]}`, status: 400, loc: "body.source_ports[0]", msg: "out of range"},
	{name: "rule inverted port range", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"tcp","destination_ports":["2000-1000"]}`, status: 400, loc: "body.destination_ports[0]", msg: "inverted"},
	{name: "rule port not a number", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"tcp","destination_ports":["http"]}`, status: 400, loc: "body.destination_ports[0]", msg: "not a port number"},
	{name: "rule duplicate sources", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","sources":["10.0.0.0/8","10.0.0.0/8"]}`, status: 400, loc: "body.sources[1]", msg: "repeats"},
	{name: "rule duplicate sources after normalisation", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","sources":["192.0.2.1","192.0.2.1/32"]}`, status: 400, loc: "body.sources[1]", msg: "repeats"},
	{name: "rule duplicate ports", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","protocol":"tcp","destination_ports":["443","443"]}`, status: 400, loc: "body.destination_ports[1]", msg: "repeats"},
	{name: "rule 257 sources", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: map[string]any{"action": "allow", "sources": badCIDRs(257)}, status: 400, loc: "body.sources", msg: "256"},
	{name: "rule 257 destination ports", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: map[string]any{"action": "allow", "protocol": "tcp", "destination_ports": badPorts(257)}, status: 400, loc: "body.destination_ports", msg: "256"},
	{name: "rule name with leading blank", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","name":" web2"}`, status: 400, loc: "body.name", msg: "must not start or end with blanks"},
	{name: "rule description over 1024", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: map[string]any{"action": "allow", "description": strings.Repeat("d", 1025)}, status: 400, loc: "body.description", msg: "1024"},
	{name: "rule expires_at not a time", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","expires_at":"tomorrow"}`, status: 400, loc: "body.expires_at", msg: ""},
	{name: "rule expires_at past year 9999 in UTC", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","expires_at":"9999-12-31T23:59:59-23:59"}`, status: 400, loc: "body.expires_at", msg: ""},
	{name: "rule duplicate name", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","name":"WEB"}`, status: 409, loc: "body.name", msg: "already exists"},
	{name: "rule insert position beyond n+1", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","position":5}`, status: 400, loc: "body.position", msg: "between 1 and 4"},
	{name: "rule insert position -1", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","position":-1}`, status: 400, loc: "body.position", msg: "position must be an integer of at least 1"},
	{name: "rule JSON array", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `[{"action":"allow"}]`, status: 400, loc: "body", msg: "the body must be an object"},
	{name: "rule malformed JSON", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":allow}`, status: 400, loc: "body", msg: "not valid JSON"},
	{name: "rule body over 1 MiB", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow","description":"` + badOneMiB + `"}`, status: 413, msg: "too large"},
	{name: "rule wrong Content-Type", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() },
		body: `{"action":"allow"}`, headers: []string{"Content-Type", "application/x-www-form-urlencoded"}, status: 415, msg: "JSON"},

	// Rules: patch, get, delete, list.
	{name: "patch rule sets position", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"position":2}`, status: 400, loc: "body.position", msg: "unknown field"},
	{name: "patch rule unknown field", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"policy_id":"x"}`, status: 400, loc: "body.policy_id", msg: "unknown field"},
	{name: "patch rule null action", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"action":null}`, status: 400, loc: "body.action", msg: ""},
	{name: "patch rule protocol icmp while ports are set", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"protocol":"icmp"}`, status: 400, loc: "body.destination_ports", msg: "only allowed with protocol tcp or udp"},
	{name: "patch rule sources with host bits", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"sources":["10.1.0.0/8"]}`, status: 400, loc: "body.sources[0]", msg: "has host bits set; did you mean 10.0.0.0/8"},
	{name: "patch rule ports as numbers", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"destination_ports":[22]}`, status: 400, loc: "body.destination_ports[0]", msg: "destination_ports[0] must be a string"},
	{name: "patch rule expires_at before year 0 in UTC", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"expires_at":"0000-01-01T00:00:00+01:00"}`, status: 400, loc: "body.expires_at", msg: ""},
	{name: "patch rule to a taken name", method: "PATCH", path: func(fx badFixture) string { return fx.rule(2) },
		body: `{"name":"Second"}`, status: 409, loc: "body.name", msg: "already exists"},
	{name: "patch rule stale If-Match", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"description":"x"}`, headers: []string{"If-Match", badStaleETag}, status: 412, msg: "has changed"},
	{name: "patch rule body over 1 MiB", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"description":"` + badOneMiB + `"}`, status: 413, msg: "too large"},
	{name: "patch rule malformed JSON", method: "PATCH", path: func(fx badFixture) string { return fx.rule(0) },
		body: `{"description":"x"`, status: 400, loc: "body", msg: "JSON"},
	{name: "patch rule through the wrong policy", method: "PATCH", path: func(fx badFixture) string { return fx.otherRules() + "/" + fx.rules[0] },
		body: `{"description":"x"}`, status: 404, msg: "rule"},
	{name: "get rule malformed id", method: "GET", path: func(fx badFixture) string { return fx.tr.rules() + "/not-a-uuid" },
		status: 404, msg: `rule "not-a-uuid" not found`},
	{name: "get rule in missing firewall", method: "GET",
		path: func(fx badFixture) string {
			return firewallsPath + "/nope/filtering-policies/" + fx.tr.PolicyID + "/rules/" + fx.rules[0]
		},
		status: 404, msg: `firewall "nope" not found`},
	{name: "delete rule stale If-Match", method: "DELETE", path: func(fx badFixture) string { return fx.rule(1) },
		headers: []string{"If-Match", badStaleETag}, status: 412, msg: "has changed"},
	{name: "delete rule missing", method: "DELETE", path: func(fx badFixture) string { return fx.tr.rules() + "/nope" },
		status: 404, msg: "rule"},
	{name: "list rules page_token over 2048", method: "GET", path: func(fx badFixture) string { return fx.tr.rules() + "?page_token=" + strings.Repeat("A", 2049) },
		status: 400, loc: "query.page_token", msg: "2048"},
	{name: "list rules forged page_token", method: "GET", path: func(fx badFixture) string { return fx.tr.rules() + "?page_token=eyJ2Ijo5fQ" },
		status: 400, loc: "query.page_token", msg: "not one this service issued"},
	{name: "list rules page_size 0", method: "GET", path: func(fx badFixture) string { return fx.tr.rules() + "?page_size=0" },
		status: 400, loc: "query.page_size", msg: ">= 1"},
	{name: "list rules unknown query parameter", method: "GET", path: func(fx badFixture) string { return fx.tr.rules() + "?sort=name" },
		status: 400, loc: "query.sort", msg: "unknown query parameter"},
	{name: "list rules of missing policy", method: "GET", path: func(fx badFixture) string { return fx.tr.policies() + "/nope/rules" },
		status: 404, msg: `filtering policy "nope" not found`},

	// Moves.
	{name: "move with nothing", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: `{}`, status: 400, loc: "body", msg: "exactly one of position, before or after"},
	{name: "move with position and before", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body:   func(fx badFixture) any { return map[string]any{"position": 2, "before": fx.rules[2]} },
		status: 400, loc: "body", msg: "exactly one of position, before or after"},
	{name: "move with before and after", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body:   func(fx badFixture) any { return map[string]any{"before": fx.rules[2], "after": fx.rules[1]} },
		status: 400, loc: "body", msg: "exactly one of position, before or after"},
	{name: "move to position 0", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: `{"position":0}`, status: 400, loc: "body.position", msg: "position must be an integer of at least 1"},
	{name: "move to position n+1", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: `{"position":4}`, status: 400, loc: "body.position", msg: "between 1 and 3"},
	{name: "move to position as string", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: `{"position":"2"}`, status: 400, loc: "body.position", msg: "position must be an integer of at least 1"},
	{name: "move before itself", method: "POST", path: func(fx badFixture) string { return fx.move(1) },
		body: func(fx badFixture) any { return map[string]any{"before": fx.rules[1]} }, status: 400, loc: "body.before", msg: "relative to itself"},
	{name: "move after itself", method: "POST", path: func(fx badFixture) string { return fx.move(1) },
		body: func(fx badFixture) any { return map[string]any{"after": fx.rules[1]} }, status: 400, loc: "body.after", msg: "relative to itself"},
	{name: "move before a rule of another policy", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: func(fx badFixture) any { return map[string]any{"before": fx.otherRule} }, status: 400, loc: "body.before", msg: "no rule"},
	{name: "move after a missing rule", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: `{"after":"01936f8e-9e3c-7d50-9f41-7c8d9e0f1a2b"}`, status: 400, loc: "body.after", msg: "no rule"},
	{name: "move unknown field", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: `{"position":2,"to":3}`, status: 400, loc: "body.to", msg: "unknown field"},
	{name: "move empty body", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: ``, status: 400, msg: "request body is required"},
	{name: "move stale If-Match", method: "POST", path: func(fx badFixture) string { return fx.move(0) },
		body: `{"position":2}`, headers: []string{"If-Match", badStaleETag}, status: 412, msg: "has changed"},
	{name: "move a missing rule", method: "POST", path: func(fx badFixture) string { return fx.tr.rules() + "/nope/move" },
		body: `{"position":1}`, status: 404, msg: `rule "nope" not found`},
	{name: "move a rule through the wrong policy", method: "POST", path: func(fx badFixture) string { return fx.otherRules() + "/" + fx.rules[0] + "/move" },
		body: `{"position":1}`, status: 404, msg: "rule"},
	{name: "move in a missing firewall", method: "POST",
		path: func(fx badFixture) string {
			return firewallsPath + "/nope/filtering-policies/" + fx.tr.PolicyID + "/rules/" + fx.rules[0] + "/move"
		},
		body:   `{"position":1}`,
		status: 404, msg: `firewall "nope" not found`},
	// The whole tree.
	{name: "put tree unknown field", method: "PUT", path: func(fx badFixture) string { return fx.tr.firewall() + "/tree" },
		body: `{"name":"edge","colour":"red"}`, status: 400, loc: "body.colour", msg: "unknown field"},
	{name: "put tree duplicate policy priority", method: "PUT", path: func(fx badFixture) string { return fx.tr.firewall() + "/tree" },
		body:   map[string]any{"name": "edge", "policies": []any{map[string]any{"name": "a", "priority": 1}, map[string]any{"name": "b", "priority": 1}}},
		status: 400, loc: "body.policies[1].priority", msg: "already used"},
	{name: "put tree rule position out of place", method: "PUT", path: func(fx badFixture) string { return fx.tr.firewall() + "/tree" },
		body:   map[string]any{"name": "edge", "policies": []any{map[string]any{"name": "a", "priority": 1, "rules": []any{map[string]any{"action": "allow", "position": 3}}}}},
		status: 400, loc: "body.policies[0].rules[0].position", msg: "must be 1"},
	{name: "put tree bad source", method: "PUT", path: func(fx badFixture) string { return fx.tr.firewall() + "/tree" },
		body:   map[string]any{"name": "edge", "policies": []any{map[string]any{"name": "a", "priority": 1, "rules": []any{map[string]any{"action": "allow", "sources": []string{"10.0.0.300/8"}}}}}},
		status: 400, loc: "body.policies[0].rules[0].sources[0]", msg: ""},
	{name: "put tree other firewall's id", method: "PUT", path: func(fx badFixture) string { return fx.tr.firewall() + "/tree" },
		body: func() any { return map[string]any{"id": "someone-else", "name": "edge"} }(), status: 400, loc: "body.id", msg: "must be the firewall's"},
	{name: "put tree stale If-Match", method: "PUT", path: func(fx badFixture) string { return fx.tr.firewall() + "/tree" },
		body: map[string]any{"name": "edge"}, headers: []string{"If-Match", `"tree-1"`}, status: 412, msg: ""},
	{name: "put tree missing firewall", method: "PUT", path: badPath(firewallsPath + "/nope/tree"),
		body: map[string]any{"name": "edge"}, status: 404, msg: "not found"},
}

// TestBadInput sends each bad request and checks that it answers the
// expected problem and writes nothing. The rows share a server and a fixture
// for speed, but every row starts from the pristine fixture: after a row
// that wrote anything (a failure of that row), the next row gets a fresh
// server and fixture.
func TestBadInput(t *testing.T) {
	if len(badRows) < 45 {
		t.Fatalf("only %d rows", len(badRows))
	}
	var (
		s    *testServer
		fx   badFixture
		snap map[string]string
	)
	fresh := func() {
		s = newTestServer(t)
		fx = newBadFixture(s)
		snap = badSnapshot(s)
	}
	fresh()
	seen := map[string]bool{}
	for _, row := range badRows {
		if seen[row.name] {
			t.Fatalf("two rows named %q", row.name)
		}
		seen[row.name] = true
		wrote := false
		t.Run(row.name, func(t *testing.T) {
			s := crudWith(s, t)
			body := row.body
			if f, ok := body.(func(badFixture) any); ok {
				body = f(fx)
			}
			res := s.do(row.method, row.path(fx), body, row.headers...)
			after := badSnapshot(s)
			diff := cmp.Diff(snap, after)
			wrote = diff != ""

			if diff != "" {
				t.Errorf("a refused request changed the stored data (-before +after):\n%.3000s", diff)
			}
			if res.Status/100 != 4 {
				t.Errorf("status %d is not a 4xx", res.Status)
			}
			if res.Status != row.status {
				kind := "unexpected status"
				if res.Status >= 500 {
					kind = "server error"
				}
				t.Fatalf("%s: %s answered %d, want %d: %.300s", kind, row.method, res.Status, row.status, res.Body)
			}
			assertProblem(t, res, row.status, row.loc, row.msg)
			if row.loc == "" && row.msg != "" {
				var p Problem
				_ = json.Unmarshal(res.Body, &p)
				if !strings.Contains(p.Detail, row.msg) {
					t.Errorf("detail %q does not contain %q", p.Detail, row.msg)
				}
			}
		})
		if wrote {
			fresh()
		}
	}
}
