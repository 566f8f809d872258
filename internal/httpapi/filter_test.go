package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// filterNames lists a collection with the given query and returns the
// names of every item, following next_page_token.
func filterNames(s *testServer, collection string, query url.Values) []string {
	s.t.Helper()
	var names []string
	for range 100 {
		page := s.must(http.StatusOK, "GET", collection+"?"+query.Encode(), nil)
		for _, item := range page["items"].([]any) {
			names = append(names, item.(map[string]any)["name"].(string))
		}
		tok := page["next_page_token"].(string)
		if tok == "" {
			return names
		}
		query.Set("page_token", tok)
	}
	s.t.Fatal("paging does not end")
	return nil
}

func TestListFilterAndOrder(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge-par1")
	for _, r := range []map[string]any{
		{"name": "web", "action": "allow", "protocol": "tcp", "sources": []string{"10.0.0.0/8"}, "destination_ports": []string{"443"}},
		{"name": "ssh", "action": "allow", "protocol": "tcp", "sources": []string{"10.1.2.0/24"}, "destination_ports": []string{"22"}},
		{"name": "v6", "action": "deny", "protocol": "tcp", "sources": []string{"2001:db8::/32"}, "destination_ports": []string{"443"}},
		{"name": "any", "action": "deny"},
	} {
		s.newRule(tr, r)
	}
	s.must(http.StatusCreated, "POST", "/api/v1/firewalls", map[string]any{"name": "core", "labels": map[string]string{"env": "prod"}})

	tests := []struct {
		collection, filter, orderBy string
		want                        []string
	}{
		{tr.rules(), `source_contains("10.1.2.3") AND destination_port_contains(443)`, "", []string{"web", "any"}},
		{tr.rules(), `destination_contains("2001:db8::1")`, "name", []string{"any", "ssh", "v6", "web"}},
		{tr.rules(), `source_contains("2001:db8::1")`, "name desc", []string{"v6", "any"}},
		{tr.rules(), `action = "deny"`, "position desc", []string{"any", "v6"}},
		{tr.rules(), `destination_ports:443`, "action desc, name", []string{"v6", "web"}},
		{firewallsPath, `labels.env = "prod"`, "", []string{"core"}},
		{firewallsPath, `name = "edge-*"`, "", []string{"edge-par1"}},
		{firewallsPath, ``, "name desc", []string{"edge-par1", "core"}},
	}
	for _, tc := range tests {
		t.Run(tc.filter+"|"+tc.orderBy, func(t *testing.T) {
			s := crudWith(s, t)
			q := url.Values{"page_size": {"1"}}
			if tc.filter != "" {
				q.Set("filter", tc.filter)
			}
			if tc.orderBy != "" {
				q.Set("order_by", tc.orderBy)
			}
			if got := filterNames(s, tc.collection, q); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// A token answers 400 with any other filter or order.
	first := s.must(http.StatusOK, "GET", tr.rules()+"?page_size=1&filter=protocol%3Dtcp", nil)
	tok := first["next_page_token"].(string)
	for _, q := range []string{"filter=protocol%3Dudp", "filter=protocol%3Dtcp&order_by=name", ""} {
		res := s.do("GET", tr.rules()+"?page_size=1&page_token="+tok+"&"+q, nil)
		assertProblem(t, res, http.StatusBadRequest, "query.page_token", "different filter or order_by")
	}
}

// TestFilterInjection sends SQL and Unicode tricks in filter, order_by and
// page_token over real HTTP, on both stores. Each must answer 400, or 200 treating the
// text as a literal that matches nothing, and leave every row in place.
func TestFilterInjection(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { filterInjection(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { filterInjection(t, newPostgresTestServer(t)) })
}

func filterInjection(t *testing.T, s *testServer) {
	tr := s.newTree("edge")
	s.newRule(tr, map[string]any{"name": "web", "action": "allow"})
	forge := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	attempts := []struct {
		param, value string
		literal      bool // answered 200, matching nothing (or only "web" when the text says so)
	}{
		{"filter", `name = "x'; DROP TABLE rules; --"`, true},
		{"filter", `name = "x\"; DROP TABLE rules; --"`, true},
		{"filter", `name = "*' OR '1'='1"`, true},
		{"filter", `description:"%' OR 1=1 --"`, true},
		{"filter", `name = "/* comment */ web"`, true},
		{"filter", `name = "web\u0000"`, false}, // PostgreSQL text cannot hold NUL
		{"filter", `name = "ｗｅｂ"`, true},        // fullwidth letters are other characters
		{"filter", `name = "we\u200bb"`, true},  // zero-width space inside
		{"filter", `name = "\u202ebew"`, true},  // right-to-left override
		{"filter", `source_contains("10.0.0.1') OR 1=1 --")`, false},
		{"filter", `name = 'web' OR 1=1`, false},
		{"filter", `name = web; DROP TABLE rules`, false},
		{"filter", `name = "web" -- comment`, false},
		{"filter", `name = "web" /* x */`, false},
		{"filter", `1=1`, false},
		{"filter", `name = "a" UNION SELECT * FROM rules`, false},
		{"filter", `labels.env = "x"`, false},
		{"filter", "name\u00a0=\u3000\"web\"", true}, // Unicode blanks are blanks: the filter is fine
		{"filter", "name = \"web\" \u2028 OR TRUE", false},
		{"filter", "ｎａｍｅ = \"web\"", false},
		{"filter", `rules.name = "web"`, false},
		{"filter", `sqlite_master:"x"`, false},
		{"order_by", `name; DROP TABLE rules`, false},
		{"order_by", `name -- x`, false},
		{"order_by", `(SELECT 1)`, false},
		{"order_by", `name, sqlite_version()`, false},
		{"order_by", `rules.name`, false},
		{"order_by", `name COLLATE NOCASE`, false},
		{"order_by", "ｎａｍｅ", false},
		{"order_by", "name\u202e", false},
		{"page_token", `' OR 1=1 --`, false},
		{"page_token", forge(`{"v":2,"c":{"k":["1) OR 1=1 --","x"],"b":"x"}}`), false},
		{"page_token", forge(`{"v":2,"c":{"k":[1,"'; DROP TABLE rules; --"],"b":"x"}}`), false},
		{"page_token", forge(`{"v":2,"c":{"k":[1e400,"x"],"b":"x"}}`), false},
		{"page_token", strings.Repeat("%27", 100), false},
	}
	for _, a := range attempts {
		t.Run(a.param+" "+a.value, func(t *testing.T) {
			s := crudWith(s, t)
			res := s.do("GET", tr.rules()+"?"+a.param+"="+url.QueryEscape(a.value), nil)
			if a.literal {
				if res.Status != http.StatusOK {
					t.Fatalf("status %d, want 200 with no match: %s", res.Status, res.Body)
				}
				items := res.JSON(t)["items"].([]any)
				want := 0
				if strings.Contains(a.value, `"web"`) {
					want = 1
				}
				if len(items) != want {
					t.Fatalf("the filter matched %d rules, want %d", len(items), want)
				}
			} else {
				assertProblem(t, res, http.StatusBadRequest, "query."+a.param, "")
			}
			if ids := s.ruleIDs(tr); len(ids) != 1 {
				t.Fatalf("the rules table now holds %d rules, want 1", len(ids))
			}
		})
	}
}

// TestFilterDocumented checks that each list's filter and order_by
// parameters list that resource's fields in the OpenAPI document.
func TestFilterDocumented(t *testing.T) {
	s := newTestServer(t)
	doc := s.must(http.StatusOK, "GET", "/openapi.json", nil)
	paths := doc["paths"].(map[string]any)
	for path, fields := range map[string][]string{
		"/api/v1/firewalls": {"labels (map of string to string)", "default_action (enum: allow, deny)", "revision (integer)"},
		"/api/v1/firewalls/{firewall_id}/filtering-policies": {"priority (integer)", "enabled (boolean)"},
		"/api/v1/firewalls/{firewall_id}/filtering-policies/{policy_id}/rules": {"sources (list of CIDRs)", "destination_ports (list of port ranges)",
			"expires_at (timestamp)", "source_contains(", "destination_port_contains("},
		"/api/v1/audit-events":                            {"actor_subject (string)", "resource_type (enum: firewall, filtering_policy, rule, change_request, address_group, service_group)", "change_request_id (string)"},
		"/api/v1/firewalls/{firewall_id}/change-requests": {"state (enum: open, approved, rejected, applied, cancelled, stale)", "no_op (boolean)"},
	} {
		params := paths[path].(map[string]any)["get"].(map[string]any)["parameters"].([]any)
		found := map[string]string{}
		for _, p := range params {
			pm := p.(map[string]any)
			if d, ok := pm["description"].(string); ok {
				found[pm["name"].(string)] = d
			}
		}
		for _, f := range fields {
			if !strings.Contains(found["filter"], f) {
				t.Errorf("%s: the filter description lacks %q: %s", path, f, found["filter"])
			}
		}
		if !strings.Contains(found["order_by"], "Default: ") {
			t.Errorf("%s: the order_by description lacks the default: %s", path, found["order_by"])
		}
	}
}
