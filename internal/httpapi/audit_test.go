package httpapi

import (
	"context"
	"database/sql"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// auditLog returns the whole audit log, newest first.
func (s *testServer) auditLog() []map[string]any {
	s.t.Helper()
	var out []map[string]any
	page := s.must(http.StatusOK, "GET", "/api/v1/audit-events?page_size=1000", nil)
	for _, item := range page["items"].([]any) {
		out = append(out, item.(map[string]any))
	}
	return out
}

// TestEveryChangeLeavesOneAuditEvent runs each mutating operation and checks
// that it adds exactly one event, with the caller, the action, and before
// and after images equal to what GET showed before and after.
func TestEveryChangeLeavesOneAuditEvent(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	r1 := s.newRule(tr, map[string]any{"name": "a", "action": "allow"})
	r2 := s.newRule(tr, map[string]any{"name": "b", "action": "deny"})
	p2 := s.must(http.StatusCreated, "POST", tr.policies(), map[string]any{"name": "other", "priority": 200})["id"].(string)
	rulePath := func(id string) string { return tr.rules() + "/" + id }

	tests := []struct {
		name, method, path string
		body               any
		status             int
		action, kind       string
		resourcePath       string // where GET shows the resource, before and after
	}{
		{"create firewall", "POST", firewallsPath, map[string]any{"name": "second"}, 201, "create", "firewall", ""},
		{"update firewall", "PATCH", tr.firewall(), map[string]any{"description": "x"}, 200, "update", "firewall", tr.firewall()},
		{"create policy", "POST", tr.policies(), map[string]any{"name": "third", "priority": 300}, 201, "create", "filtering_policy", ""},
		{"update policy", "PATCH", tr.policy(), map[string]any{"enabled": false}, 200, "update", "filtering_policy", tr.policy()},
		{"create rule", "POST", tr.rules(), map[string]any{"action": "reject", "position": 1}, 201, "create", "rule", ""},
		{"update rule", "PATCH", rulePath(r1), map[string]any{"sources": []string{"10.0.0.0/8"}}, 200, "update", "rule", rulePath(r1)},
		{"move rule", "POST", rulePath(r2) + "/move", map[string]any{"position": 1}, 200, "move", "rule", rulePath(r2)},
		{"delete rule", "DELETE", rulePath(r1), nil, 204, "delete", "rule", rulePath(r1)},
		{"delete policy", "DELETE", tr.policies() + "/" + p2, nil, 204, "delete", "filtering_policy", tr.policies() + "/" + p2},
		{"delete firewall with its tree", "DELETE", tr.firewall() + "?cascade=true", nil, 204, "delete", "firewall", tr.firewall()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(s.auditLog())
			var image map[string]any
			if tt.resourcePath != "" {
				image = s.must(http.StatusOK, "GET", tt.resourcePath, nil)
			}
			res := s.do(tt.method, tt.path, tt.body)
			if res.Status != tt.status {
				t.Fatalf("%s %s: %d %s", tt.method, tt.path, res.Status, res.Body)
			}
			log := s.auditLog()
			if len(log) != before+1 {
				t.Fatalf("the change left %d audit events, want 1", len(log)-before)
			}
			ev := log[0]
			if ev["action"] != tt.action || ev["resource_type"] != tt.kind || ev["actor_subject"] != "test-admin" ||
				ev["request_id"] != res.Header.Get("X-Request-ID") {
				t.Fatalf("event %v, want action %s on %s by test-admin in request %s", ev, tt.action, tt.kind, res.Header.Get("X-Request-ID"))
			}
			if diff := cmp.Diff([]any{"admin"}, ev["actor_roles"]); diff != "" {
				t.Fatalf("actor_roles: %s", diff)
			}
			var after map[string]any
			switch {
			case tt.status == http.StatusNoContent:
			case tt.resourcePath != "":
				after = s.must(http.StatusOK, "GET", tt.resourcePath, nil)
			default:
				after = res.JSON(t)
			}
			// The audit images are the domain's JSON; the API's has the
			// same fields but shows lists of ports and CIDRs as strings
			// too, so compare them field by field.
			compareImage(t, "before", ev["before"], image)
			compareImage(t, "after", ev["after"], after)
			if ev["resource_id"] == nil || (image != nil && ev["resource_id"] != image["id"]) {
				t.Fatalf("resource_id %v, want %v", ev["resource_id"], image["id"])
			}
		})
	}
}

func compareImage(t *testing.T, which string, got any, want map[string]any) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s image %v, want none", which, got)
		}
		return
	}
	gotMap, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("%s image %v, want an object", which, got)
	}
	// The domain writes an empty list as null where the API shows [].
	for k, v := range want {
		if list, isList := v.([]any); isList && len(list) == 0 && gotMap[k] == nil {
			gotMap[k] = list
		}
	}
	if diff := cmp.Diff(want, gotMap); diff != "" {
		t.Fatalf("%s image differs from GET (-get +audit):\n%s", which, diff)
	}
}

func TestFailedChangesLeaveNoAuditEvent(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	before := len(s.auditLog())
	for _, req := range []struct {
		method, path string
		body         any
		headers      []string
	}{
		{"POST", firewallsPath, map[string]any{"name": "EDGE"}, nil},                                    // 409
		{"POST", tr.policies(), map[string]any{"name": "x", "priority": 100}, nil},                      // 409
		{"PATCH", tr.firewall(), map[string]any{"name": "y"}, []string{"If-Match", `"stale"`}},          // 412
		{"POST", tr.rules(), map[string]any{"action": "allow", "sources": []string{"10.0.0.1/8"}}, nil}, // 400
		{"DELETE", tr.firewall(), nil, nil},                                                             // 409: it has a policy
	} {
		if res := s.do(req.method, req.path, req.body, req.headers...); res.Status < 400 {
			t.Fatalf("%s %s succeeded: %d", req.method, req.path, res.Status)
		}
	}
	if n := len(s.auditLog()); n != before {
		t.Fatalf("failed changes left %d audit events", n-before)
	}
}

// TestAuditFailureFailsTheChange makes the audit write fail for real, by
// dropping its table, and checks that the change is not committed.
func TestAuditFailureFailsTheChange(t *testing.T) {
	s := newTestServer(t)
	db, err := sql.Open("sqlite", s.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), `DROP TABLE audit_events`); err != nil {
		t.Fatal(err)
	}
	res := s.do("POST", firewallsPath, map[string]any{"name": "unaudited"})
	assertProblem(t, res, http.StatusInternalServerError, "", "")
	if page := s.must(http.StatusOK, "GET", firewallsPath, nil); len(page["items"].([]any)) != 0 {
		t.Fatalf("the change was committed without its audit event: %v", page["items"])
	}
}
