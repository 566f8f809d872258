package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

func TestRevisions(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { revisions(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { revisions(t, newPostgresTestServer(t)) })
}

// historyDocs makes a few revisions of a firewall and returns the tree
// documents GET .../tree gave right after each, by revision, and the
// request id of each write.
func historyDocs(s *testServer, tr tree) (map[int]json.RawMessage, map[int]string) {
	docs, requests := map[int]json.RawMessage{}, map[int]string{}
	record := func(res response) {
		s.t.Helper()
		cur := s.do("GET", tr.firewall()+"/tree", nil)
		var doc struct {
			Revision int `json:"revision"`
		}
		if err := json.Unmarshal(cur.Body, &doc); err != nil || cur.Status != http.StatusOK {
			s.t.Fatalf("GET tree: %d %s", cur.Status, cur.Body)
		}
		docs[doc.Revision] = cur.Body
		requests[doc.Revision] = res.Header.Get("X-Request-ID")
	}
	record(response{Header: http.Header{}})
	web := s.do("POST", tr.rules(), map[string]any{"action": "allow", "name": "web", "protocol": "tcp", "destination_ports": []string{"443"}})
	record(web)
	var webRule struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(web.Body, &webRule); err != nil {
		s.t.Fatal(err)
	}
	ssh := s.do("POST", tr.rules(), map[string]any{"action": "deny", "name": "ssh", "protocol": "tcp", "destination_ports": []string{"22"}, "position": 1})
	record(ssh)
	record(s.do("PATCH", tr.rules()+"/"+webRule.ID, map[string]any{"action": "reject"}))
	record(s.do("DELETE", tr.rules()+"/"+webRule.ID, nil))
	return docs, requests
}

func revisions(t *testing.T, s *testServer) {
	tr := s.newTree("edge")
	docs, requests := historyDocs(s, tr)
	current := 0
	for rev := range docs {
		current = max(current, rev)
	}

	t.Run("EveryRevisionReadsBackAsItsTree", func(t *testing.T) {
		for rev, want := range docs {
			res := s.do("GET", fmt.Sprintf("%s/revisions/%d", tr.firewall(), rev), nil)
			if res.Status != http.StatusOK {
				t.Fatalf("GET revision %d: %d %s", rev, res.Status, res.Body)
			}
			var got, w any
			_ = json.Unmarshal(res.Body, &got)
			_ = json.Unmarshal(want, &w)
			if d := cmp.Diff(w, got); d != "" {
				t.Fatalf("revision %d differs from the tree then (-then +read):\n%s", rev, d)
			}
			if res.Header.Get("ETag") == "" {
				t.Fatalf("revision %d has no ETag", rev)
			}
		}
	})

	t.Run("ListNewestFirst", func(t *testing.T) {
		var seen []int
		path := tr.firewall() + "/revisions?page_size=2"
		for {
			page := s.must(http.StatusOK, "GET", path, nil)
			for _, it := range page["items"].([]any) {
				item := it.(map[string]any)
				rev := int(item["revision"].(float64))
				seen = append(seen, rev)
				if item["summary"] == "" || item["created_at"] == "" || item["actor"] != "test-admin" {
					t.Fatalf("revision item %v", item)
				}
				if want := requests[rev]; want != "" && item["request_id"] != want {
					t.Fatalf("revision %d names request %v, want %s", rev, item["request_id"], want)
				}
			}
			next, _ := page["next_page_token"].(string)
			if next == "" {
				break
			}
			path = tr.firewall() + "/revisions?page_size=2&page_token=" + next
		}
		var want []int
		for rev := current; rev >= 1; rev-- {
			want = append(want, rev)
		}
		if d := cmp.Diff(want, seen); d != "" {
			t.Fatalf("revisions listed (-want +got):\n%s", d)
		}
	})

	t.Run("Diff", func(t *testing.T) {
		out := s.must(http.StatusOK, "GET", fmt.Sprintf("%s/revisions/%d/diff?against=%d", tr.firewall(), current, current-2), nil)
		rules := out["structural"].(map[string]any)["rules"].([]any)
		if len(rules) != 1 || rules[0].(map[string]any)["change"] != "removed" {
			t.Fatalf("structural rules %v, want the web rule removed", rules)
		}
		sem := out["semantic"].(map[string]any)
		if sem["no_op"] != false || len(sem["regions"].([]any)) == 0 {
			t.Fatalf("semantic %v, want regions: port 443 went from allow to the default", sem)
		}
		same := s.must(http.StatusOK, "GET", fmt.Sprintf("%s/revisions/%d/diff?against=%d", tr.firewall(), current, current), nil)
		if same["semantic"].(map[string]any)["no_op"] != true {
			t.Fatalf("a revision against itself: %v", same)
		}
	})

	t.Run("Rollback", func(t *testing.T) {
		to := current - 2 // web and ssh both there, web allowing
		res := s.do("POST", tr.firewall()+"/rollback", map[string]any{"revision": to})
		if res.Status != http.StatusOK {
			t.Fatalf("rollback: %d %s", res.Status, res.Body)
		}
		out := res.JSON(t)
		if out["changed"] != true || int(out["revision"].(float64)) != current+1 {
			t.Fatalf("rollback answered %v", out)
		}
		d := s.must(http.StatusOK, "GET", fmt.Sprintf("%s/revisions/%d/diff?against=%d", tr.firewall(), current+1, to), nil)
		st := d["structural"].(map[string]any)
		if len(st["rules"].([]any))+len(st["policies"].([]any))+len(st["firewall"].([]any)) != 0 || d["semantic"].(map[string]any)["no_op"] != true {
			t.Fatalf("after rolling back to %d the diff against it is %v", to, d)
		}
		top := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions?page_size=1", nil)["items"].([]any)[0].(map[string]any)
		if top["summary"] != fmt.Sprintf("rolled back to revision %d", to) || top["request_id"] != res.Header.Get("X-Request-ID") {
			t.Fatalf("the rollback's revision record: %v", top)
		}
		events := s.must(http.StatusOK, "GET", fmt.Sprintf("/api/v1/audit-events?filter=%s", url.QueryEscape(`request_id = "`+res.Header.Get("X-Request-ID")+`"`)), nil)
		if len(events["items"].([]any)) == 0 {
			t.Fatal("the rollback left no audit event")
		}
		// The web rule is back under its own id.
		var then struct {
			Policies []struct {
				Rules []struct {
					ID string `json:"id"`
				} `json:"rules"`
			} `json:"policies"`
		}
		_ = json.Unmarshal(docs[to], &then)
		ids := s.ruleIDs(tr)
		if len(ids) != 2 || ids[0] != then.Policies[0].Rules[0].ID || ids[1] != then.Policies[0].Rules[1].ID {
			t.Fatalf("rules after the rollback %v, want %+v", ids, then)
		}
		again := s.must(http.StatusOK, "POST", tr.firewall()+"/rollback", map[string]any{"revision": to})
		if again["changed"] != false {
			t.Fatalf("rolling back to the tree it has made a revision: %v", again)
		}
		stale := s.do("POST", tr.firewall()+"/rollback", map[string]any{"revision": 1}, "If-Match", `"tree-1"`)
		assertProblem(t, stale, http.StatusPreconditionFailed, "", "")
	})

	t.Run("BadInput", func(t *testing.T) {
		rev := tr.firewall() + "/revisions/"
		for _, c := range []struct {
			name, method, path string
			body               any
			status             int
			location, msg      string
		}{
			{"RevisionNotANumber", "GET", rev + "abc", nil, http.StatusBadRequest, "path.revision", ""},
			{"RevisionZero", "GET", rev + "0", nil, http.StatusBadRequest, "path.revision", ""},
			{"RevisionTooBig", "GET", rev + "99999999999999999999", nil, http.StatusBadRequest, "path.revision", ""},
			{"RevisionNotReached", "GET", rev + "999", nil, http.StatusNotFound, "path.revision", ""},
			{"DiffNotANumber", "GET", rev + "x/diff?against=1", nil, http.StatusBadRequest, "path.revision", ""},
			{"DiffNotReached", "GET", rev + "999/diff?against=1", nil, http.StatusNotFound, "path.revision", ""},
			{"AgainstMissing", "GET", rev + "1/diff", nil, http.StatusBadRequest, "query.against", ""},
			{"AgainstNotANumber", "GET", rev + "1/diff?against=two", nil, http.StatusBadRequest, "query.against", ""},
			{"AgainstNotReached", "GET", rev + "1/diff?against=999", nil, http.StatusNotFound, "query.against", ""},
			{"PageSizeZero", "GET", tr.firewall() + "/revisions?page_size=0", nil, http.StatusBadRequest, "query.page_size", ""},
			{"PageTokenJunk", "GET", tr.firewall() + "/revisions?page_token=junk", nil, http.StatusBadRequest, "query.page_token", ""},
			{"RollbackNotReached", "POST", tr.firewall() + "/rollback", map[string]any{"revision": 999}, http.StatusNotFound, "body.revision", ""},
			{"RollbackZero", "POST", tr.firewall() + "/rollback", map[string]any{"revision": 0}, http.StatusBadRequest, "body.revision", ""},
			{"RollbackNotANumber", "POST", tr.firewall() + "/rollback", map[string]any{"revision": "7"}, http.StatusBadRequest, "body.revision", ""},
			{"RollbackMissing", "POST", tr.firewall() + "/rollback", map[string]any{}, http.StatusBadRequest, "body", "revision"},
			{"RollbackUnknownField", "POST", tr.firewall() + "/rollback", map[string]any{"revision": 1, "to": 2}, http.StatusBadRequest, "body.to", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				assertProblem(t, s.do(c.method, c.path, c.body), c.status, c.location, c.msg)
			})
		}
		for _, path := range []string{"/revisions", "/revisions/1", "/revisions/1/diff?against=1"} {
			assertProblem(t, s.do("GET", "/api/v1/firewalls/no-such"+path, nil), http.StatusNotFound, "", "")
		}
	})

	t.Run("Roles", func(t *testing.T) {
		viewer, editor := mintToken(t, "vic", auth.Viewer), mintToken(t, "eddie", auth.Editor)
		for _, path := range []string{"/revisions", "/revisions/1", "/revisions/2/diff?against=1"} {
			s.must(http.StatusOK, "GET", tr.firewall()+path, nil, "Authorization", "Bearer "+viewer)
			assertProblem(t, s.do("GET", tr.firewall()+path, nil, "Authorization", ""), http.StatusUnauthorized, "", "")
		}
		assertProblem(t, s.do("POST", tr.firewall()+"/rollback", map[string]any{"revision": 2}, "Authorization", "Bearer "+viewer), http.StatusForbidden, "", "")
		s.must(http.StatusOK, "POST", tr.firewall()+"/rollback", map[string]any{"revision": 2}, "Authorization", "Bearer "+editor)
	})
}

// A pruned revision answers 410 naming it; the kept ones still read.
func TestRevisionPruned(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.SetRetention(firewall.Retention{Keep: 2})
	s := newTestServerOn(t, db)
	tr := s.newTree("edge")
	for range 3 {
		s.newRule(tr, nil)
	}
	// Revisions 1 to 5; 4 and 5 kept.
	assertProblem(t, s.do("GET", tr.firewall()+"/revisions/3", nil), http.StatusGone, "path.revision", "the oldest revision kept is 4")
	assertProblem(t, s.do("GET", tr.firewall()+"/revisions/5/diff?against=2", nil), http.StatusGone, "query.against", "kept is 4")
	s.must(http.StatusOK, "GET", tr.firewall()+"/revisions/4", nil)
	page := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions", nil)
	if n := len(page["items"].([]any)); n != 2 {
		t.Fatalf("%d revisions listed, want the 2 kept", n)
	}
}

// FuzzRollbackBody posts arbitrary bodies to rollback: a 4xx problem or a
// rollback to a revision the firewall has, never a 5xx.
func FuzzRollbackBody(f *testing.F) {
	fuzzAddSeeds(f, `{"revision":1}`, `{"revision":3}`, `{"revision":0}`, `{"revision":-1}`, `{"revision":"2"}`,
		`{"revision":1e3}`, `{"revision":2.5}`, `{"revision":99999999999999999999}`, `{}`, `[]`, `{"revision":2,"x":1}`)
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		res := fs.do(t, "POST", fs.tr.firewall()+"/rollback", body, "application/json")
		fuzzCheckAnswer(t, "rollback", body, res)
	})
}

// FuzzRevisionParams sends arbitrary text as the revision in the path,
// the against of a diff and a list's page token.
func FuzzRevisionParams(f *testing.F) {
	for _, s := range []string{"1", "2", "0", "-1", "abc", "1e3", "99999999999999999999", "", "%00", "eyJ2IjozfQ"} {
		f.Add(s)
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, s string) {
		esc := url.PathEscape(s)
		for _, path := range []string{
			"/revisions/" + esc,
			"/revisions/" + esc + "/diff?against=1",
			"/revisions/1/diff?against=" + url.QueryEscape(s),
			"/revisions?page_token=" + url.QueryEscape(s),
		} {
			if s == "" && path == "/revisions/" {
				continue
			}
			fuzzCheckAnswer(t, "GET "+path, nil, fs.do(t, "GET", fs.tr.firewall()+path, nil, ""))
		}
	})
}

func TestRevisionsWithGroups(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { revisionsWithGroups(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { revisionsWithGroups(t, newPostgresTestServer(t)) })
}

// revisionsWithGroups reads revisions back with the groups they used, diffs
// across a group edit, and rolls back over changed and deleted groups.
func revisionsWithGroups(t *testing.T, s *testServer) {
	const ag, sg = "/api/v1/address-groups", "/api/v1/service-groups"
	tr := s.newTree("grouped")
	web := s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "web", "addresses": []string{"192.0.2.0/24"}})
	webID := web["id"].(string)
	s.must(http.StatusCreated, "POST", sg, map[string]any{"name": "https", "services": []map[string]any{{"protocol": "tcp", "ports": []string{"443"}}}})
	rule := s.must(http.StatusCreated, "POST", tr.rules(), map[string]any{"action": "allow", "name": "web-in",
		"source_groups": []string{"web"}, "service_groups": []string{"https"}})
	ruleID := rule["id"].(string)
	doc := func() (int, json.RawMessage) {
		res := s.do("GET", tr.firewall()+"/tree", nil)
		var d struct {
			Revision int `json:"revision"`
		}
		if err := json.Unmarshal(res.Body, &d); err != nil || res.Status != http.StatusOK {
			t.Fatalf("GET tree: %d %s", res.Status, res.Body)
		}
		return d.Revision, res.Body
	}
	revA, docA := doc()
	s.must(http.StatusOK, "PATCH", ag+"/"+webID, map[string]any{"addresses": []string{"198.51.100.0/24"}})
	revB, docB := doc()
	if revB != revA+1 {
		t.Fatalf("the group edit made revision %d after %d", revB, revA)
	}

	t.Run("RevisionDocumentsCarryTheirGroups", func(t *testing.T) {
		for rev, want := range map[int]json.RawMessage{revA: docA, revB: docB} {
			got := s.must(http.StatusOK, "GET", fmt.Sprintf("%s/revisions/%d", tr.firewall(), rev), nil)
			var w map[string]any
			_ = json.Unmarshal(want, &w)
			if d := cmp.Diff(w, got); d != "" {
				t.Fatalf("revision %d differs from the tree then (-then +read):\n%s", rev, d)
			}
			if _, ok := got["groups"]; !ok {
				t.Fatalf("revision %d has no groups: %v", rev, got)
			}
		}
	})

	t.Run("DiffAcrossGroupEdit", func(t *testing.T) {
		d := s.must(http.StatusOK, "GET", fmt.Sprintf("%s/revisions/%d/diff?against=%d", tr.firewall(), revB, revA), nil)
		sem := d["semantic"].(map[string]any)
		if sem["no_op"] != false || sem["total"].(float64) == 0 {
			t.Fatalf("semantic diff across the group edit: %v", sem)
		}
		want := []any{map[string]any{"kind": "address_group", "id": webID, "name": "web", "changed": []any{"addresses"}}}
		if diff := cmp.Diff(want, d["changed_groups"]); diff != "" {
			t.Fatalf("changed groups (-want +got):\n%s", diff)
		}
	})

	t.Run("RollbackListsChangedGroups", func(t *testing.T) {
		s.must(http.StatusOK, "PATCH", tr.rules()+"/"+ruleID, map[string]any{"source_groups": []string{}})
		out := s.must(http.StatusOK, "POST", tr.firewall()+"/rollback", map[string]any{"revision": revA})
		want := []any{map[string]any{"kind": "address_group", "id": webID, "name": "web", "changed": []any{"addresses"}}}
		if diff := cmp.Diff(want, out["changed_groups"]); diff != "" {
			t.Fatalf("changed groups (-want +got):\n%s", diff)
		}
		got := s.must(http.StatusOK, "GET", tr.rules()+"/"+ruleID, nil)
		if fmt.Sprint(got["source_groups"]) != fmt.Sprint(rule["source_groups"]) {
			t.Fatalf("source groups after the rollback %v, want %v", got["source_groups"], rule["source_groups"])
		}
	})

	t.Run("RollbackToDeletedGroup", func(t *testing.T) {
		old := s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "old", "addresses": []string{"203.0.113.0/24"}})
		s.must(http.StatusOK, "PATCH", tr.rules()+"/"+ruleID, map[string]any{"destination_groups": []string{"old"}})
		revC, _ := doc()
		s.must(http.StatusOK, "PATCH", tr.rules()+"/"+ruleID, map[string]any{"destination_groups": []string{}})
		if res := s.do("DELETE", ag+"/"+old["id"].(string), nil); res.Status != http.StatusNoContent {
			t.Fatalf("delete old: %d %s", res.Status, res.Body)
		}
		assertProblem(t, s.do("POST", tr.firewall()+"/rollback", map[string]any{"revision": revC}), http.StatusConflict, "body.revision", `"old"`)
	})
}
