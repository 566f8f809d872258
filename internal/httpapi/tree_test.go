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
		if want := fmt.Sprintf(`"tree-%d"`, 3+round); etag != want {
			t.Fatalf("round %d: etag %s, want %s: one revision per applied PUT", round, etag, want)
		}
		// Swap, so that the next round changes the tree whoever wins.
		docs[0], docs[1] = docs[1], docs[0]
		rules := res.JSON(t)["policies"].([]any)[0].(map[string]any)["rules"].([]any)
		won := rules[0].(map[string]any)["action"]
		docs[0]["policies"].([]any)[0].(map[string]any)["rules"].([]any)[0].(map[string]any)["action"] = map[any]string{"allow": "deny", "deny": "reject", "reject": "allow"}[won]
		docs[1]["policies"].([]any)[0].(map[string]any)["rules"].([]any)[0].(map[string]any)["action"] = map[any]string{"allow": "reject", "deny": "allow", "reject": "deny"}[won]
	}
}
