package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/fireflow/fireflow/internal/auth"
)

func (tr tree) analysis() string { return tr.firewall() + "/analysis" }
func (tr tree) search() string   { return tr.firewall() + "/search" }
func (tr tree) compare() string  { return tr.firewall() + "/compare" }

func TestAnalysisAPI(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { analysisAPI(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { analysisAPI(t, newPostgresTestServer(t)) })
}

// analysisAPI runs findings, search and compare through the API, as a
// viewer, and checks every example flow with the evaluate endpoint.
func analysisAPI(t *testing.T, s *testServer) {
	tr := s.newTree("edge")
	low := s.newRule(tr, map[string]any{"action": "allow", "protocol": "tcp", "sources": []string{"10.0.0.0/25"}, "destination_ports": []string{"443"}})
	high := s.newRule(tr, map[string]any{"action": "deny", "protocol": "tcp", "sources": []string{"10.0.0.128/25"}, "destination_ports": []string{"443"}})
	whole := s.newRule(tr, map[string]any{"action": "allow", "protocol": "tcp", "sources": []string{"10.0.0.0/24"}, "destination_ports": []string{"443"}})
	dns := s.newRule(tr, map[string]any{"action": "allow", "protocol": "udp", "destination_ports": []string{"53"}})
	viewer := "Bearer " + mintToken(t, "vic", auth.Viewer)
	rev := s.must(http.StatusOK, "GET", tr.firewall(), nil)["revision"]

	// The evaluate endpoint must agree with every example flow.
	confirm := func(what string, flow, decision any) {
		t.Helper()
		got := s.must(http.StatusOK, "POST", tr.evaluate(), map[string]any{"flow": flow})["decision"].(map[string]any)
		want := decision.(map[string]any)
		if got["action"] != want["action"] || got["rule_id"] != want["rule_id"] || got["decided_by"] != want["decided_by"] {
			t.Errorf("%s: the example %v is decided %v, the answer says %v", what, flow, got, want)
		}
	}

	rep := s.must(http.StatusOK, "GET", tr.analysis(), nil, "Authorization", viewer)
	if rep["revision"] != rev || rep["firewall_id"] != tr.FirewallID {
		t.Fatalf("analysis names revision %v of %v, want %v of %s", rep["revision"], rep["firewall_id"], rev, tr.FirewallID)
	}
	var unreachable map[string]any
	for _, f := range rep["findings"].([]any) {
		f := f.(map[string]any)
		if f["kind"] == "unreachable" {
			unreachable = f
		}
		if ex, ok := f["example"].(map[string]any); ok {
			confirm(f["kind"].(string), ex["flow"], ex["decision"])
		}
	}
	if unreachable == nil || unreachable["rule_id"] != whole || unreachable["severity"] != "error" || unreachable["different_action"] != true {
		t.Fatalf("want the union-covered rule unreachable, with a different action: %v", rep["findings"])
	}
	cover := unreachable["covered_by"].([]any)
	if len(cover) != 2 || cover[0].(map[string]any)["rule_id"] != low || cover[1].(map[string]any)["rule_id"] != high {
		t.Fatalf("covered_by %v, want %s and %s", cover, low, high)
	}
	// Without low, whole would allow its flows: low is redundant.
	only := s.must(http.StatusOK, "GET", tr.analysis()+"?kinds=redundant,expiring&expiring_within=7", nil)
	fs := only["findings"].([]any)
	if len(fs) != 1 || fs[0].(map[string]any)["kind"] != "redundant" || fs[0].(map[string]any)["rule_id"] != low {
		t.Fatalf("kinds=redundant,expiring: %v, want %s redundant", fs, low)
	}

	// Search: a flow from 10.0.0.0/24 to port 443 that is allowed exists;
	// none is decided by the unreachable rule; outside tcp and udp/53
	// everything falls to the firewall default.
	found := s.must(http.StatusOK, "POST", tr.search(), map[string]any{
		"space":  map[string]any{"protocols": []string{"tcp"}, "sources": []string{"10.0.0.0/24"}, "sources_except": []string{"10.0.0.0/26"}, "destination_ports": []string{"443"}},
		"target": map[string]any{"action": "allow"},
	}, "Authorization", viewer)
	if found["exists"] != true || found["revision"] != rev {
		t.Fatalf("search: %v", found)
	}
	confirm("search", found["flow"], found["decision"])
	none := s.must(http.StatusOK, "POST", tr.search(), map[string]any{"space": map[string]any{}, "target": map[string]any{"rule_id": whole}})
	if none["exists"] != false || none["flow"] != nil {
		t.Fatalf("search for the unreachable rule: %v", none)
	}
	outside := s.must(http.StatusOK, "POST", tr.search(), map[string]any{
		"space":  map[string]any{"protocols": []string{"udp"}, "destination_ports": []string{"53"}},
		"target": map[string]any{"decided_by": "rule", "action": "allow"}, "invert": true,
	})
	if outside["exists"] != true || outside["decision"].(map[string]any)["rule_id"] != low {
		t.Fatalf("inverted search: %v", outside)
	}
	confirm("inverted search", outside["flow"], outside["decision"])

	// Compare with a candidate that denies dns, and with an empty firewall.
	candidate := map[string]any{"name": "edge", "policies": []any{map[string]any{
		"name": "baseline", "priority": 100, "rules": []any{
			map[string]any{"id": low, "action": "allow", "protocol": "tcp", "sources": []string{"10.0.0.0/25"}, "destination_ports": []string{"443"}},
			map[string]any{"id": high, "action": "deny", "protocol": "tcp", "sources": []string{"10.0.0.128/25"}, "destination_ports": []string{"443"}},
			map[string]any{"id": dns, "action": "deny", "protocol": "udp", "destination_ports": []string{"53"}},
		},
	}}}
	cmp := s.must(http.StatusOK, "POST", tr.compare(), map[string]any{"candidate": candidate}, "Authorization", viewer)
	regions := cmp["regions"].([]any)
	if cmp["revision"] != rev || cmp["total"] != float64(1) || len(regions) != 1 {
		t.Fatalf("compare with the candidate: %v", cmp)
	}
	reg := regions[0].(map[string]any)
	if reg["old"].(map[string]any)["rule_id"] != dns || reg["new"].(map[string]any)["action"] != "deny" {
		t.Fatalf("region %v, want dns allowed before and denied after", reg)
	}
	confirm("compare", reg["example"], reg["old"])

	other := s.newTree("empty")
	cmp = s.must(http.StatusOK, "POST", tr.compare(), map[string]any{"firewall_id": other.FirewallID, "max_regions": 1})
	if cmp["total"] != float64(2) || len(cmp["regions"].([]any)) != 1 {
		t.Fatalf("compare with an empty firewall: %v, want 2 regions (low and dns allowed), 1 listed", cmp)
	}
	// A change bumps the revision, and the next analysis sees it.
	s.must(http.StatusNoContent, "DELETE", tr.rules()+"/"+low, nil)
	rep = s.must(http.StatusOK, "GET", tr.analysis()+"?kinds=unreachable", nil)
	if rep["revision"] == rev || len(rep["findings"].([]any)) != 0 {
		t.Fatalf("after deleting %s: %v", low, rep)
	}
}

func TestAnalysisRefusesBadInput(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	s.newRule(tr, nil)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		location, message  string
	}{
		{"unknown kind", "GET", tr.analysis() + "?kinds=unreachable,shadowed", nil, 400, "query.kinds", "shadowed"},
		{"negative horizon", "GET", tr.analysis() + "?expiring_within=-1", nil, 400, "query.expiring_within", ""},
		{"unknown firewall", "GET", "/api/v1/firewalls/nope/analysis", nil, 404, "", ""},
		{"host bits", "POST", tr.search(), map[string]any{"space": map[string]any{"sources": []string{"10.0.0.1/8"}}}, 400, "body.space.sources[0]", "host bits"},
		{"bad exclusion", "POST", tr.search(), map[string]any{"space": map[string]any{"destinations_except": []string{"nope"}}}, 400, "body.space.destinations_except[0]", ""},
		{"bad port", "POST", tr.search(), map[string]any{"space": map[string]any{"destination_ports": []string{"0"}}}, 400, "body.space.destination_ports[0]", ""},
		{"bad protocol", "POST", tr.search(), map[string]any{"space": map[string]any{"protocols": []string{"sctp"}}}, 400, "body.space.protocols[0]", ""},
		{"bad action", "POST", tr.search(), map[string]any{"space": map[string]any{}, "target": map[string]any{"action": "next"}}, 400, "body.target.action", ""},
		{"unknown field", "POST", tr.search(), map[string]any{"space": map[string]any{"ports": []string{"1"}}}, 400, "body.space.ports", ""},
		{"not json", "POST", tr.search(), "{", 400, "", ""},
		{"neither side", "POST", tr.compare(), map[string]any{}, 400, "body", "firewall_id"},
		{"both sides", "POST", tr.compare(), map[string]any{"firewall_id": tr.FirewallID, "candidate": map[string]any{"name": "x"}}, 400, "body", "not both"},
		{"bad candidate rule", "POST", tr.compare(), map[string]any{"candidate": map[string]any{"name": "x", "policies": []any{
			map[string]any{"name": "p", "priority": 1, "rules": []any{map[string]any{"action": "allow", "sources": []string{"10.0.0.1/8"}}}}}}},
			400, "body.candidate.policies[0].rules[0].sources[0]", "host bits"},
		{"duplicate priority", "POST", tr.compare(), map[string]any{"candidate": map[string]any{"name": "x", "policies": []any{
			map[string]any{"name": "p", "priority": 1}, map[string]any{"name": "q", "priority": 1}}}},
			400, "body.candidate.policies[1].priority", ""},
		{"unknown other firewall", "POST", tr.compare(), map[string]any{"firewall_id": "nope"}, 404, "", ""},
		{"too many regions", "POST", tr.compare(), map[string]any{"firewall_id": tr.FirewallID, "max_regions": 10001}, 400, "body.max_regions", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			assertProblem(t, s.do(c.method, c.path, c.body), c.status, c.location, c.message)
		})
	}
}

// FuzzSearchBody posts any body to the search endpoint: never a 5xx, and
// a flow found is decided as the answer says by the evaluate endpoint.
func FuzzSearchBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{}`, `{"space":{}}`, `{"space":{"protocols":["tcp"],"sources":["10.0.0.0/8"],"sources_except":["10.1.0.0/16"],"destination_ports":["443"]},"target":{"action":"allow"}}`,
		`{"space":{"protocols":["icmp"],"destination_ports":["1"]},"target":{"decided_by":"firewall_default"}}`,
		`{"space":{"destinations":["2001:db8::/32"]},"target":{"action":"deny"},"invert":true}`,
		`{"space":{"sources":["10.0.0.1/8"]}}`, `{"target":{"rule_id":"nope"}}`, `{"space":{"protocols":["sctp"]}}`,
		`{"space":{"source_ports":["2-1"]}}`, `{"target":{"action":"next"}}`, `{"invert":"yes"}`,
	)
	fs := newFuzzServer(f)
	path := fs.tr.firewall() + "/search"
	f.Fuzz(func(t *testing.T, body []byte) {
		res := fs.do(t, "POST", path, body, "application/json")
		m := fuzzCheckAnswer(t, "POST search", body, res)
		if m == nil || m["exists"] != true {
			return
		}
		ev := fs.do(t, "POST", fs.tr.firewall()+"/evaluate", mustJSON(t, map[string]any{"flow": m["flow"]}), "application/json")
		got := fuzzCheckAnswer(t, "POST evaluate", body, ev)
		d, want := got["decision"].(map[string]any), m["decision"].(map[string]any)
		if d["action"] != want["action"] || d["rule_id"] != want["rule_id"] || d["decided_by"] != want["decided_by"] {
			t.Fatalf("search with %q found %v decided %v, evaluate says %v", body, m["flow"], want, d)
		}
	})
}

// FuzzCompareBody posts any body to the compare endpoint: never a 5xx,
// and each region's example is decided as its old decision says.
func FuzzCompareBody(f *testing.F) {
	fuzzAddSeeds(f,
		`{}`, `{"candidate":{"name":"x"}}`, `{"candidate":{"name":"x","default_action":"allow"},"max_regions":1}`,
		`{"candidate":{"name":"x","policies":[{"name":"p","priority":1,"default_action":"deny","rules":[{"action":"allow","protocol":"udp","destination_ports":["53"]}]}]}}`,
		`{"candidate":{"name":"x","policies":[{"name":"p","priority":1,"rules":[{"action":"allow","sources":["10.0.0.1/8"]}]}]}}`,
		`{"candidate":{"name":"x","policies":[{"name":"p","priority":1},{"name":"p","priority":1}]}}`,
		`{"firewall_id":"nope"}`, `{"firewall_id":"x","candidate":{"name":"x"}}`, `{"max_regions":-1}`,
	)
	fs := newFuzzServer(f)
	path := fs.tr.firewall() + "/compare"
	f.Fuzz(func(t *testing.T, body []byte) {
		res := fs.do(t, "POST", path, body, "application/json")
		m := fuzzCheckAnswer(t, "POST compare", body, res)
		if m == nil {
			return
		}
		for _, r := range m["regions"].([]any) {
			reg := r.(map[string]any)
			ev := fs.do(t, "POST", fs.tr.firewall()+"/evaluate", mustJSON(t, map[string]any{"flow": reg["example"]}), "application/json")
			d, want := fuzzCheckAnswer(t, "POST evaluate", body, ev)["decision"].(map[string]any), reg["old"].(map[string]any)
			if d["action"] != want["action"] || d["rule_id"] != want["rule_id"] {
				t.Fatalf("compare with %q: region example %v decided %v, the region says %v", body, reg["example"], d, want)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
