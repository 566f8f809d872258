package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestGroups drives address and service groups through the API on both
// stores: CRUD, rules that refer to them by name, evaluation that names the
// group, propagation of a change to the firewall's revision and decisions,
// usage, and the refusals (cycle, depth, size, unknown reference, delete
// while referenced), each a 4xx naming the problem.
func TestGroups(t *testing.T) {
	for _, st := range []struct {
		name string
		open func(*testing.T) *testServer
	}{{"sqlite", newTestServer}, {"postgres", newPostgresTestServer}} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testGroups(t, st.open(t))
		})
	}
}

func testGroups(t *testing.T, s *testServer) {
	const ag, sg = "/api/v1/address-groups", "/api/v1/service-groups"
	res := s.do("POST", ag, map[string]any{"name": "web", "addresses": []string{"192.0.2.10", "2001:db8::/64"}, "labels": map[string]string{"env": "prod"}})
	if res.Status != http.StatusCreated || res.Header.Get("ETag") == "" || !strings.HasPrefix(res.Header.Get("Location"), ag+"/") {
		t.Fatalf("create web: %d %v %s", res.Status, res.Header, res.Body)
	}
	web := res.JSON(t)
	webID := web["id"].(string)
	if got := fmt.Sprint(web["addresses"]); got != "[192.0.2.10/32 2001:db8::/64]" {
		t.Fatalf("web addresses = %s", got)
	}
	dmz := s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "dmz", "groups": []string{"WEB"}})
	dmzID := dmz["id"].(string)
	if got := fmt.Sprint(dmz["groups"]); got != fmt.Sprintf("[map[id:%s name:web]]", webID) {
		t.Fatalf("dmz groups = %s", got)
	}
	https := s.must(http.StatusCreated, "POST", sg, map[string]any{"name": "https", "services": []map[string]any{{"protocol": "tcp", "ports": []string{"443"}}}})

	t.Run("refusals", func(t *testing.T) {
		assertProblem(t, s.do("PATCH", ag+"/"+webID, map[string]any{"groups": []string{"dmz"}}), http.StatusBadRequest, "body.groups", "web → dmz → web")
		assertProblem(t, s.do("PATCH", ag+"/"+webID, map[string]any{"groups": []string{webID}}), http.StatusBadRequest, "body.groups", "web → web")
		assertProblem(t, s.do("POST", ag, map[string]any{"name": "x", "groups": []string{"nope"}}), http.StatusBadRequest, "body.groups[0]", `no address group has the id or name "nope"`)
		assertProblem(t, s.do("POST", ag, map[string]any{"name": "Web"}), http.StatusConflict, "body.name", `an address group named "web" already exists`)
		assertProblem(t, s.do("POST", ag, map[string]any{"name": "bad", "addresses": []string{"10.0.0.1/8"}}), http.StatusBadRequest, "body.addresses[0]", "host bits")
		assertProblem(t, s.do("POST", sg, map[string]any{"name": "bad", "services": []map[string]any{{"protocol": "icmp", "ports": []string{"1"}}}}), http.StatusBadRequest, "body.services[0].ports", "")
		many := make([]string, 1025)
		for i := range many {
			many[i] = fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)
		}
		res := s.do("POST", ag, map[string]any{"name": "big", "addresses": many})
		if res.Status < 400 || res.Status >= 500 || !strings.Contains(string(res.Body), "addresses") {
			t.Fatalf("1025 addresses: %d %s", res.Status, res.Body)
		}
		// A chain deeper than the limit: each group nests the previous one.
		prev := ""
		for i := range 9 {
			body := map[string]any{"name": fmt.Sprintf("level-%d", i)}
			if prev != "" {
				body["groups"] = []string{prev}
			}
			res := s.do("POST", ag, body)
			if i < 8 {
				if res.Status != http.StatusCreated {
					t.Fatalf("level %d: %d %s", i, res.Status, res.Body)
				}
				prev = res.JSON(t)["id"].(string)
				continue
			}
			assertProblem(t, res, http.StatusBadRequest, "body.groups", "9 levels deep; at most 8")
		}
	})

	tr := s.newTree("fw-groups")
	ruleID := s.newRule(tr, map[string]any{"action": "allow", "source_groups": []string{"dmz"}, "service_groups": []string{"https"}})
	rule := s.must(http.StatusOK, "GET", tr.rules()+"/"+ruleID, nil)
	if got := fmt.Sprint(rule["source_groups"], rule["service_groups"]); got != fmt.Sprintf("[map[id:%s name:dmz]] [map[id:%s name:https]]", dmzID, https["id"]) {
		t.Fatalf("rule groups = %s", got)
	}
	t.Run("rule refusals", func(t *testing.T) {
		assertProblem(t, s.do("POST", tr.rules(), map[string]any{"action": "deny", "destination_groups": []string{"nope"}}),
			http.StatusBadRequest, "body.destination_groups[0]", `no address group has the id or name "nope"`)
		assertProblem(t, s.do("POST", tr.rules(), map[string]any{"action": "deny", "protocol": "tcp", "service_groups": []string{"https"}}),
			http.StatusBadRequest, "body.service_groups", "leave protocol any")
		assertProblem(t, s.do("POST", tr.rules(), map[string]any{"action": "deny", "source_groups": []string{"web", "WEB"}}),
			http.StatusBadRequest, "body.source_groups[1]", "listed twice")
	})

	decide := func(src string, port int) map[string]any {
		t.Helper()
		return s.must(http.StatusOK, "POST", tr.evaluate(), map[string]any{"flow": flowBody("tcp", src, "198.51.100.1", 5000, port), "explain": true})["decision"].(map[string]any)
	}
	d := decide("192.0.2.10", 443)
	step := d["path"].([]any)[0].(map[string]any)
	if d["action"] != "allow" || step["source_group"] != "dmz" || step["service_group"] != "https" {
		t.Fatalf("decision through groups = %v", d)
	}
	if d := decide("192.0.2.10", 80); d["action"] != "deny" {
		t.Fatalf("port 80 = %v, want deny (no service matches)", d)
	}
	before := s.must(http.StatusOK, "GET", tr.firewall(), nil)["revision"].(float64)
	s.must(http.StatusOK, "PATCH", ag+"/"+webID, map[string]any{"addresses": []string{"192.0.2.11"}})
	if after := s.must(http.StatusOK, "GET", tr.firewall(), nil)["revision"].(float64); after != before+1 {
		t.Fatalf("revision %v after the change of a nested group, want %v", after, before+1)
	}
	if d := decide("192.0.2.10", 443); d["action"] != "deny" {
		t.Fatalf("after the change 192.0.2.10 = %v, want deny", d)
	}
	if d := decide("192.0.2.11", 443); d["action"] != "allow" {
		t.Fatalf("after the change 192.0.2.11 = %v, want allow", d)
	}
	events := s.must(http.StatusOK, "GET", `/api/v1/audit-events?filter=`+url.QueryEscape(`resource_type = "firewall" AND firewall_id = "`+tr.FirewallID+`"`), nil)["items"].([]any)
	if ev := events[0].(map[string]any); !strings.Contains(fmt.Sprint(ev["after"]), "caused_by") || !strings.Contains(fmt.Sprint(ev["after"]), webID) {
		t.Fatalf("newest firewall event = %v, want the revision caused by web", ev)
	}
	if ev := s.must(http.StatusOK, "GET", `/api/v1/audit-events?filter=`+url.QueryEscape(`resource_type = "address_group"`), nil)["items"].([]any); len(ev) < 3 {
		t.Fatalf("%d address group events, want the creates and the update", len(ev))
	}

	usage := s.must(http.StatusOK, "GET", ag+"/"+webID+"/usage", nil)
	if got := fmt.Sprint(len(usage["firewalls"].([]any)), len(usage["policies"].([]any)), len(usage["rules"].([]any)), usage["groups"]); got != fmt.Sprintf("1 1 1 [map[id:%s name:dmz]]", dmzID) {
		t.Fatalf("usage of web = %s", got)
	}
	if via := usage["rules"].([]any)[0].(map[string]any)["via"].(map[string]any)["name"]; via != "dmz" {
		t.Fatalf("usage via = %v", via)
	}
	t.Run("tree document", func(t *testing.T) {
		res := s.do("GET", tr.firewall()+"/tree", nil)
		doc := res.JSON(t)
		rules := doc["policies"].([]any)[0].(map[string]any)["rules"].([]any)
		if got := fmt.Sprint(rules[0].(map[string]any)["source_groups"]); got != "[dmz]" {
			t.Fatalf("tree rule source_groups = %s", got)
		}
		groups := fmt.Sprint(doc["groups"])
		if !strings.Contains(groups, "name:dmz") || !strings.Contains(groups, "name:web") || !strings.Contains(groups, "name:https") {
			t.Fatalf("tree groups section = %s", groups)
		}
		out := s.must(http.StatusOK, "PUT", tr.firewall()+"/tree", doc, "If-Match", res.Header.Get("ETag"))
		if out["changed"] != false {
			t.Fatalf("putting the tree back changed it: %v", out)
		}
		rules[0].(map[string]any)["destination_groups"] = []string{"nope"}
		assertProblem(t, s.do("PUT", tr.firewall()+"/tree", doc, "If-Match", res.Header.Get("ETag")), http.StatusBadRequest,
			"body.policies[0].rules[0].destination_groups[0]", `no address group has the id or name "nope"`)
		rules[0].(map[string]any)["destination_groups"] = []string{"web"}
		out = s.must(http.StatusOK, "PUT", tr.firewall()+"/tree", doc, "If-Match", res.Header.Get("ETag"))
		if out["changed"] != true {
			t.Fatalf("adding a destination group changed nothing: %v", out)
		}
		rule := s.must(http.StatusOK, "GET", tr.rules()+"/"+ruleID, nil)
		if got := fmt.Sprint(rule["destination_groups"]); got != fmt.Sprintf("[map[id:%s name:web]]", webID) {
			t.Fatalf("rule destination_groups after PUT = %s", got)
		}
	})
	assertProblem(t, s.do("DELETE", ag+"/"+webID, nil), http.StatusConflict, "path.group_id", `address group "dmz" nests it`)
	assertProblem(t, s.do("DELETE", ag+"/"+dmzID, nil), http.StatusConflict, "path.group_id", "refers to it in source_groups")
	assertProblem(t, s.do("DELETE", sg+"/"+https["id"].(string), nil), http.StatusConflict, "path.group_id", "service_groups")

	list := s.must(http.StatusOK, "GET", ag+"?filter="+url.QueryEscape(`name = "d*" OR labels.env = "prod"`), nil)["items"].([]any)
	if len(list) != 2 {
		t.Fatalf("filtered list = %v, want dmz and web", list)
	}
	// Once the rule drops the group, the groups can go, innermost last.
	s.must(http.StatusOK, "PATCH", tr.rules()+"/"+ruleID, map[string]any{"source_groups": nil, "service_groups": []string{}, "destination_groups": nil})
	s.must(http.StatusNoContent, "DELETE", ag+"/"+dmzID, nil)
	s.must(http.StatusNoContent, "DELETE", ag+"/"+webID, nil)
	s.must(http.StatusNotFound, "GET", ag+"/"+webID, nil)
	s.must(http.StatusNoContent, "DELETE", sg+"/"+https["id"].(string), nil)
}
