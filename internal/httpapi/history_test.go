package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

func TestTreePutGet(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { treePutGet(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { treePutGet(t, newPostgresTestServer(t)) })
}

func treePutGet(t *testing.T, s *testServer) {
	tr := s.newTree("edge")
	web := s.newRule(tr, map[string]any{"action": "allow", "name": "web", "protocol": "tcp", "destination_ports": []string{"443"}})
	ssh := s.newRule(tr, map[string]any{"action": "deny", "name": "ssh", "protocol": "tcp", "destination_ports": []string{"22"}})

	res := s.do("GET", tr.firewall()+"/tree", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET tree: %d %s", res.Status, res.Body)
	}
	etag := res.Header.Get("ETag")
	doc := res.JSON(t)

	t.Run("SameDocumentTwiceMakesNoRevision", func(t *testing.T) {
		out := s.must(http.StatusOK, "PUT", tr.firewall()+"/tree", doc, "If-Match", etag)
		if out["changed"] != false {
			t.Fatalf("PUT of the same tree changed it: %v", out)
		}
		again := s.do("GET", tr.firewall()+"/tree", nil)
		if again.Header.Get("ETag") != etag {
			t.Fatalf("etag moved from %s to %s", etag, again.Header.Get("ETag"))
		}
	})

	t.Run("EditKeepsIDs", func(t *testing.T) {
		// Without ids: matched by name. The ssh rule changes, a rule is added.
		body := map[string]any{"name": "edge", "default_action": "deny", "policies": []any{map[string]any{
			"name": "baseline", "priority": 100, "rules": []any{
				map[string]any{"name": "web", "action": "allow", "protocol": "tcp", "destination_ports": []string{"443"}},
				map[string]any{"name": "ssh", "action": "reject", "protocol": "tcp", "destination_ports": []string{"22"}},
				map[string]any{"name": "dns", "action": "allow", "protocol": "udp", "destination_ports": []string{"53"}},
			}}}}
		dry := s.must(http.StatusOK, "PUT", tr.firewall()+"/tree?dry_run=true", body, "If-Match", etag)
		if dry["dry_run"] != true || dry["changed"] != true || dry["semantic"] == nil {
			t.Fatalf("dry run = %v", dry)
		}
		if now := s.do("GET", tr.firewall()+"/tree", nil); now.Header.Get("ETag") != etag {
			t.Fatal("the dry run saved something")
		}
		out := s.must(http.StatusOK, "PUT", tr.firewall()+"/tree", body, "If-Match", etag)
		ids := s.ruleIDs(tr)
		if len(ids) != 3 || ids[0] != web || ids[1] != ssh {
			t.Fatalf("rules after the edit %v, want web %s and ssh %s kept", ids, web, ssh)
		}
		rules := out["structural"].(map[string]any)["rules"].([]any)
		if len(rules) != 2 {
			t.Fatalf("structural diff %v, want ssh changed and dns added", rules)
		}
		// The old etag is stale now.
		res := s.do("PUT", tr.firewall()+"/tree", body, "If-Match", etag)
		assertProblem(t, res, http.StatusPreconditionFailed, "", "")
	})

	t.Run("BadDocument", func(t *testing.T) {
		res := s.do("PUT", tr.firewall()+"/tree", map[string]any{"name": "edge", "default_action": "deny",
			"policies": []any{map[string]any{"name": "a", "priority": 1, "rules": []any{map[string]any{"action": "maybe"}}}}})
		assertProblem(t, res, http.StatusBadRequest, "body.policies[0].rules[0].action", "")
	})
}

func TestRevisionsAndRollback(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { revisionsAndRollback(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { revisionsAndRollback(t, newPostgresTestServer(t)) })
}

func revisionsAndRollback(t *testing.T, s *testServer) {
	tr := s.newTree("edge")
	a := s.newRule(tr, map[string]any{"action": "allow", "name": "a", "protocol": "tcp", "destination_ports": []string{"80"}})
	s.newRule(tr, map[string]any{"action": "deny", "name": "b"})
	s.must(http.StatusNoContent, "DELETE", tr.rules()+"/"+a, nil)

	page := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions?page_size=2", nil)
	items := page["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["revision"].(float64) != 5 || page["next_page_token"] == "" {
		t.Fatalf("first page %v", page)
	}
	if items[0].(map[string]any)["actor"] != "test-admin" || items[0].(map[string]any)["summary"] == "" {
		t.Fatalf("revision 5 = %v", items[0])
	}
	rev3 := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions/3", nil)
	rules := rev3["tree"].(map[string]any)["policies"].([]any)[0].(map[string]any)["rules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["id"] != a {
		t.Fatalf("revision 3 = %v", rev3)
	}
	diff := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions/5/diff?against=4", nil)
	st := diff["structural"].(map[string]any)["rules"].([]any)
	if len(st) != 1 || st[0].(map[string]any)["change"] != "removed" || st[0].(map[string]any)["id"] != a {
		t.Fatalf("structural diff 4..5 = %v", st)
	}
	if diff["semantic"].(map[string]any)["no_op"] != false {
		t.Fatalf("removing rule a changes decisions, but the diff says no_op: %v", diff["semantic"])
	}

	out := s.must(http.StatusOK, "POST", tr.firewall()+"/rollback", map[string]any{"revision": 4})
	if out["revision"].(float64) != 6 {
		t.Fatalf("rollback made revision %v, want 6", out["revision"])
	}
	if ids := s.ruleIDs(tr); !slices.Contains(ids, a) {
		t.Fatalf("rollback did not bring rule %s back: %v", a, ids)
	}
	d := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions/6/diff?against=4", nil)
	if st := d["structural"].(map[string]any); len(st["rules"].([]any)) != 0 || len(st["policies"].([]any)) != 0 {
		t.Fatalf("revision 6 differs from 4: %v", d)
	}
	audit := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/audit-events?filter=%s", "resource_id%3D%22"+a+"%22"), nil)
	if n := len(audit["items"].([]any)); n != 3 {
		t.Fatalf("rule a has %d audit events, want create, delete and the rollback's create", n)
	}

	t.Run("BadInput", func(t *testing.T) {
		assertProblem(t, s.do("POST", tr.firewall()+"/rollback", map[string]any{"revision": 99}), http.StatusBadRequest, "body.revision", "does not exist")
		assertProblem(t, s.do("POST", tr.firewall()+"/rollback", map[string]any{"revision": 0}), http.StatusBadRequest, "body.revision", "")
		assertProblem(t, s.do("GET", tr.firewall()+"/revisions/99", nil), http.StatusNotFound, "", "")
		assertProblem(t, s.do("GET", tr.firewall()+"/revisions/5/diff?against=99", nil), http.StatusBadRequest, "query.against", "does not exist")
		assertProblem(t, s.do("GET", tr.firewall()+"/revisions?page_token=junk", nil), http.StatusBadRequest, "", "")
		assertProblem(t, s.do("GET", "/api/v1/firewalls/nope/revisions", nil), http.StatusNotFound, "", "")
	})
}

// Two PUTs of the tree under the same If-Match at once on PostgreSQL:
// exactly one applies, the other answers 412, and the tree is the winner's.
func TestTreePutConcurrentPostgres(t *testing.T) {
	s := newPostgresTestServer(t)
	tr := s.newTree("edge")
	res := s.do("GET", tr.firewall()+"/tree", nil)
	etag := res.Header.Get("ETag")
	docs := []map[string]any{}
	for _, action := range []string{"allow", "deny"} {
		docs = append(docs, map[string]any{"name": "edge", "default_action": "deny", "policies": []any{map[string]any{
			"name": "baseline", "priority": 100, "rules": []any{map[string]any{"name": "r", "action": action}}}}})
	}
	for round := range 3 {
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = s.do("PUT", tr.firewall()+"/tree", docs[i], "If-Match", etag).Status
			}()
		}
		wg.Wait()
		slices.Sort(statuses)
		if statuses[0] != http.StatusOK || statuses[1] != http.StatusPreconditionFailed {
			t.Fatalf("round %d: statuses %v, want one 200 and one 412", round, statuses)
		}
		res := s.do("GET", tr.firewall()+"/tree", nil)
		etag = res.Header.Get("ETag")
		page := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions", nil)
		if n := len(page["items"].([]any)); n != 3+round {
			t.Fatalf("round %d: %d revisions, want %d: one per applied PUT", round, n, 3+round)
		}
		// Swap, so that the next round changes the tree whoever wins.
		docs[0], docs[1] = docs[1], docs[0]
		rules := res.JSON(t)["policies"].([]any)[0].(map[string]any)["rules"].([]any)
		won := rules[0].(map[string]any)["action"]
		docs[0]["policies"].([]any)[0].(map[string]any)["rules"].([]any)[0].(map[string]any)["action"] = map[any]string{"allow": "deny", "deny": "reject", "reject": "allow"}[won]
		docs[1]["policies"].([]any)[0].(map[string]any)["rules"].([]any)[0].(map[string]any)["action"] = map[any]string{"allow": "reject", "deny": "allow", "reject": "deny"}[won]
	}
}
