package httpapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
)

// crFixture is a firewall with one policy holding a web rule, and the
// tokens of the people who review its changes.
type crFixture struct {
	s                       *testServer
	tr                      tree
	web                     string
	author, other, approver string
	viewer, editorApprover  string
}

func newCRFixture(t *testing.T, s *testServer) crFixture {
	tr := s.newTree("edge")
	web := s.newRule(tr, map[string]any{"action": "allow", "name": "web", "protocol": "tcp", "destination_ports": []string{"443"}})
	return crFixture{s: s, tr: tr, web: web,
		author:   mintToken(t, "alice", auth.Editor),
		other:    mintToken(t, "carol", auth.Editor),
		approver: mintToken(t, "bob", auth.Approver),
		viewer:   mintToken(t, "victor", auth.Viewer),
		editorApprover: func() string {
			tok, err := auth.Mint(testSecret, "dana", []string{"editor", "approver"}, time.Hour, "", "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}(),
	}
}

func (f crFixture) crs() string { return f.tr.firewall() + "/change-requests" }

func (f crFixture) revision() int64 {
	return int64(f.s.must(http.StatusOK, "GET", f.tr.firewall(), nil)["revision"].(float64))
}

// as sends a request with token.
func (f crFixture) as(token string, want int, method, path string, body any) map[string]any {
	f.s.t.Helper()
	return f.s.must(want, method, path, body, "Authorization", "Bearer "+token)
}

// propose creates a change request as the author and returns it.
func (f crFixture) propose(body map[string]any) map[string]any {
	f.s.t.Helper()
	if body["base_revision"] == nil {
		body["base_revision"] = f.revision()
	}
	if body["title"] == nil {
		body["title"] = "a change"
	}
	return f.as(f.author, http.StatusCreated, "POST", f.crs(), body)
}

// rejectSSH adds a rule rejecting ssh, which the firewall default denies.
func rejectSSH() map[string]any {
	op := denySSH()
	op["rule"].(map[string]any)["action"] = "reject"
	op["rule"].(map[string]any)["name"] = "no-ssh"
	return op
}

// denySSH is an operation that adds a rule denying ssh before web.
func denySSH() map[string]any {
	return map[string]any{"op": "create_rule", "policy_name": "baseline",
		"rule": map[string]any{"action": "deny", "protocol": "tcp", "destination_ports": []string{"22"}, "position": 1}}
}

func TestChangeRequests(t *testing.T) {
	s := newTestServer(t)
	f := newCRFixture(t, s)

	t.Run("OperationsLifecycle", func(t *testing.T) {
		cr := f.propose(map[string]any{"title": "block ssh", "description": "audit finding 12",
			"operations": []any{rejectSSH(), map[string]any{"op": "patch_rule", "policy_name": "baseline", "rule_id": f.web,
				"rule_patch": map[string]any{"description": "the web tier"}}}})
		if cr["state"] != "open" || cr["author"] != "alice" || cr["no_op"] != false {
			t.Fatalf("created %v", cr)
		}
		im := cr["impact"].(map[string]any)
		rules := im["structural"].(map[string]any)["rules"].([]any)
		if len(rules) != 2 {
			t.Fatalf("structural rules %v, want one added and one changed", rules)
		}
		if sem := im["semantic"].(map[string]any); sem["no_op"] != false || sem["total"].(float64) < 1 {
			t.Fatalf("semantic %v", sem)
		}
		path := f.crs() + "/" + cr["id"].(string)
		got := f.as(f.viewer, http.StatusOK, "GET", path, nil)
		if got["title"] != "block ssh" || len(got["operations"].([]any)) != 2 {
			t.Fatalf("GET %v", got)
		}
		// Nothing changed on the firewall yet.
		if ids := s.ruleIDs(f.tr); len(ids) != 1 {
			t.Fatalf("rules before apply: %v", ids)
		}
		// The author cannot approve; applying before approval is refused.
		res := s.do("POST", path+"/approve", map[string]any{"comment": "self"}, "Authorization", "Bearer "+f.editorApprover)
		if res.Status != http.StatusOK { // dana is not the author: allowed
			t.Fatalf("approve by another editor+approver: %d %s", res.Status, res.Body)
		}
		applied := f.as(f.other, http.StatusOK, "POST", path+"/apply", map[string]any{"comment": "rolling out"})
		if applied["state"] != "applied" || applied["applied_revision"].(float64) != float64(f.revision()) {
			t.Fatalf("applied %v", applied)
		}
		ids := s.ruleIDs(f.tr)
		if len(ids) != 2 || ids[1] != f.web {
			t.Fatalf("rules after apply %v, want no-ssh then web %s", ids, f.web)
		}
		comments := applied["comments"].([]any)
		if len(comments) != 2 || comments[0].(map[string]any)["actor"] != "dana" || comments[1].(map[string]any)["text"] != "rolling out" {
			t.Fatalf("comments %v", comments)
		}
		// Every audit event of the change names the request.
		ev := s.must(http.StatusOK, "GET", `/api/v1/audit-events?filter=`+url.QueryEscape(`change_request_id = "`+cr["id"].(string)+`" AND resource_type = "rule"`), nil)
		if n := len(ev["items"].([]any)); n != 2 {
			t.Fatalf("%d rule events name the change request, want 2: %v", n, ev)
		}
		// An applied request is final.
		assertProblem(t, s.do("POST", path+"/cancel", nil, "Authorization", "Bearer "+f.author), http.StatusConflict, "change_request.state", "applied")
	})

	t.Run("ApproveOwnIs403", func(t *testing.T) {
		cr := f.as(f.editorApprover, http.StatusCreated, "POST", f.crs(), map[string]any{"title": "mine", "base_revision": f.revision(),
			"operations": []any{map[string]any{"op": "patch_rule", "policy_name": "baseline", "rule_id": f.web, "rule_patch": map[string]any{"action": "reject"}}}})
		path := f.crs() + "/" + cr["id"].(string)
		assertProblem(t, s.do("POST", path+"/approve", nil, "Authorization", "Bearer "+f.editorApprover), http.StatusForbidden, "", "")
		assertProblem(t, s.do("POST", path+"/reject", nil, "Authorization", "Bearer "+f.editorApprover), http.StatusForbidden, "", "")
		// An editor without the approver role cannot approve at all.
		assertProblem(t, s.do("POST", path+"/approve", nil, "Authorization", "Bearer "+f.other), http.StatusForbidden, "", "")
		// An approver cannot apply or cancel.
		assertProblem(t, s.do("POST", path+"/cancel", nil, "Authorization", "Bearer "+f.approver), http.StatusForbidden, "", "")
		// The author cancels.
		if got := f.as(f.editorApprover, http.StatusOK, "POST", path+"/cancel", map[string]any{"comment": "never mind"}); got["state"] != "cancelled" {
			t.Fatalf("cancel: %v", got)
		}
	})

	t.Run("ViewerCreateIs403", func(t *testing.T) {
		res := s.do("POST", f.crs(), map[string]any{"title": "x", "base_revision": f.revision(), "operations": []any{denySSH()}},
			"Authorization", "Bearer "+f.viewer)
		assertProblem(t, res, http.StatusForbidden, "", "")
	})

	t.Run("ApplyUnapprovedIs409", func(t *testing.T) {
		cr := f.propose(map[string]any{"operations": []any{map[string]any{"op": "patch_rule", "policy_name": "baseline", "rule_id": f.web,
			"rule_patch": map[string]any{"description": "x"}}}})
		path := f.crs() + "/" + cr["id"].(string)
		assertProblem(t, s.do("POST", path+"/apply", nil, "Authorization", "Bearer "+f.author), http.StatusConflict, "change_request.state", "open")
	})

	t.Run("RejectThenNothingElse", func(t *testing.T) {
		cr := f.propose(map[string]any{"operations": []any{denySSH()}})
		path := f.crs() + "/" + cr["id"].(string)
		got := f.as(f.approver, http.StatusOK, "POST", path+"/reject", map[string]any{"comment": "too broad"})
		if got["state"] != "rejected" || got["reviewer"] != "bob" {
			t.Fatalf("reject: %v", got)
		}
		assertProblem(t, s.do("POST", path+"/approve", nil, "Authorization", "Bearer "+f.approver), http.StatusConflict, "change_request.state", "rejected")
		assertProblem(t, s.do("POST", path+"/cancel", nil, "Authorization", "Bearer "+f.author), http.StatusConflict, "change_request.state", "rejected")
	})

	t.Run("ApproveThenCancel", func(t *testing.T) {
		cr := f.propose(map[string]any{"operations": []any{denySSH()}})
		path := f.crs() + "/" + cr["id"].(string)
		f.as(f.approver, http.StatusOK, "POST", path+"/approve", nil)
		assertProblem(t, s.do("POST", path+"/approve", nil, "Authorization", "Bearer "+f.approver), http.StatusConflict, "change_request.state", "approved")
		if got := f.as(f.author, http.StatusOK, "POST", path+"/cancel", nil); got["state"] != "cancelled" {
			t.Fatalf("cancel: %v", got)
		}
	})

	t.Run("StaleIs409WithReason", func(t *testing.T) {
		// Two requests change the same rule's action from one base.
		base := f.revision()
		one := f.propose(map[string]any{"base_revision": base, "operations": []any{map[string]any{"op": "patch_rule",
			"policy_name": "baseline", "rule_id": f.web, "rule_patch": map[string]any{"action": "deny"}}}})
		two := f.propose(map[string]any{"base_revision": base, "operations": []any{map[string]any{"op": "patch_rule",
			"policy_name": "baseline", "rule_id": f.web, "rule_patch": map[string]any{"action": "reject"}}}})
		// A third, elsewhere in the header space, still applies after both.
		three := f.propose(map[string]any{"base_revision": base, "operations": []any{map[string]any{"op": "create_rule",
			"policy_name": "baseline", "rule": map[string]any{"action": "allow", "protocol": "udp", "destination_ports": []string{"53"}}}}})
		for _, cr := range []map[string]any{one, two, three} {
			f.as(f.approver, http.StatusOK, "POST", f.crs()+"/"+cr["id"].(string)+"/approve", nil)
		}
		f.as(f.author, http.StatusOK, "POST", f.crs()+"/"+one["id"].(string)+"/apply", nil)
		res := s.do("POST", f.crs()+"/"+two["id"].(string)+"/apply", nil, "Authorization", "Bearer "+f.author)
		assertProblem(t, res, http.StatusConflict, "change_request.state", "semantic diff changed")
		got := f.as(f.viewer, http.StatusOK, "GET", f.crs()+"/"+two["id"].(string), nil)
		if got["state"] != "stale" || !strings.Contains(got["stale_reason"].(string), "moved from revision") {
			t.Fatalf("stale request: %v", got)
		}
		// Stale is final, and applying again says why.
		assertProblem(t, s.do("POST", f.crs()+"/"+two["id"].(string)+"/apply", nil, "Authorization", "Bearer "+f.author),
			http.StatusConflict, "change_request.state", "went stale because")
		if got := f.as(f.author, http.StatusOK, "POST", f.crs()+"/"+three["id"].(string)+"/apply", nil); got["state"] != "applied" {
			t.Fatalf("the unrelated change: %v", got)
		}
		rule := s.must(http.StatusOK, "GET", f.tr.rules()+"/"+f.web, nil)
		if rule["action"] != "deny" {
			t.Fatalf("web's action %v, want the first request's deny", rule["action"])
		}
	})

	t.Run("ReadsStaleOnceTheFirewallMoves", func(t *testing.T) {
		web := s.must(http.StatusOK, "GET", f.tr.rules()+"/"+f.web, nil)
		next := "reject"
		if web["action"] == "reject" {
			next = "deny"
		}
		cr := f.propose(map[string]any{"operations": []any{map[string]any{"op": "patch_rule",
			"policy_name": "baseline", "rule_id": f.web, "rule_patch": map[string]any{"action": next}}}})
		path := f.crs() + "/" + cr["id"].(string)
		if got := f.as(f.viewer, http.StatusOK, "GET", path, nil); got["state"] != "open" {
			t.Fatalf("before the move: %v", got["state"])
		}
		// Someone else allows the same flows: the reviewed change would now
		// turn an allow, not what the reviewer saw, into the new action.
		s.must(http.StatusOK, "PATCH", f.tr.rules()+"/"+f.web, map[string]any{"action": "allow"})
		got := f.as(f.viewer, http.StatusOK, "GET", path, nil)
		if got["state"] != "stale" || !strings.Contains(got["stale_reason"].(string), "semantic diff changed") || got["etag"] != cr["etag"] {
			t.Fatalf("after a conflicting move: %v %v (etag %v, was %v)", got["state"], got["stale_reason"], got["etag"], cr["etag"])
		}
		list := f.as(f.viewer, http.StatusOK, "GET", f.crs()+"?filter="+url.QueryEscape(`state = "open"`), nil)
		found := false
		for _, it := range list["items"].([]any) {
			if item := it.(map[string]any); item["id"] == cr["id"] {
				found = item["state"] == "stale"
			}
		}
		if !found {
			t.Fatalf("the list does not show the request stale: %v", list["items"])
		}
		assertProblem(t, s.do("POST", path+"/approve", nil, "Authorization", "Bearer "+f.approver),
			http.StatusConflict, "change_request.state", "semantic diff changed")
		if got := f.as(f.viewer, http.StatusOK, "GET", path, nil); got["state"] != "stale" || got["etag"] == cr["etag"] {
			t.Fatalf("after the refused approval: %v", got)
		}
	})

	t.Run("StaleWhenOperationsNoLongerApply", func(t *testing.T) {
		victim := s.newRule(f.tr, map[string]any{"action": "deny", "name": "victim", "protocol": "udp", "destination_ports": []string{"123"}})
		cr := f.propose(map[string]any{"operations": []any{map[string]any{"op": "patch_rule", "policy_name": "baseline",
			"rule_id": victim, "rule_patch": map[string]any{"action": "allow"}}}})
		f.as(f.approver, http.StatusOK, "POST", f.crs()+"/"+cr["id"].(string)+"/approve", nil)
		s.must(http.StatusNoContent, "DELETE", f.tr.rules()+"/"+victim, nil)
		res := s.do("POST", f.crs()+"/"+cr["id"].(string)+"/apply", nil, "Authorization", "Bearer "+f.author)
		assertProblem(t, res, http.StatusConflict, "change_request.state", "no longer apply")
	})

	t.Run("NoOp", func(t *testing.T) {
		// A rule that web already decides the same way: nothing changes.
		cr := f.propose(map[string]any{"title": "dup web", "operations": []any{map[string]any{"op": "create_rule", "policy_name": "baseline",
			"rule": map[string]any{"name": "web-again", "action": "deny", "protocol": "tcp", "destination_ports": []string{"443"}}}}})
		if cr["no_op"] != true || cr["impact"].(map[string]any)["semantic"].(map[string]any)["total"].(float64) != 0 {
			t.Fatalf("no-op request: %v", cr)
		}
		added := cr["impact"].(map[string]any)["findings_added"].([]any)
		found := false
		for _, a := range added {
			if a.(map[string]any)["kind"] == "unreachable" {
				found = true
			}
		}
		if !found {
			t.Fatalf("findings added %v, want the new rule unreachable", added)
		}
		list := f.as(f.viewer, http.StatusOK, "GET", f.crs()+"?filter="+url.QueryEscape(`no_op AND title = "dup web"`), nil)["items"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != cr["id"] {
			t.Fatalf("no-op requests listed: %v", list)
		}
	})

	t.Run("Candidate", func(t *testing.T) {
		doc := s.must(http.StatusOK, "GET", f.tr.firewall()+"/tree", nil)
		pol := doc["policies"].([]any)[0].(map[string]any)
		pol["rules"] = append(pol["rules"].([]any), map[string]any{"name": "ntp", "action": "allow", "protocol": "udp", "destination_ports": []string{"123"}})
		cr := f.propose(map[string]any{"title": "ntp", "candidate": doc})
		rules := cr["impact"].(map[string]any)["structural"].(map[string]any)["rules"].([]any)
		if len(rules) != 1 || rules[0].(map[string]any)["change"] != "added" || cr["candidate"] == nil {
			t.Fatalf("candidate request: %v", cr)
		}
		path := f.crs() + "/" + cr["id"].(string)
		f.as(f.approver, http.StatusOK, "POST", path+"/approve", nil)
		// An unrelated policy added meanwhile does not make it stale.
		s.must(http.StatusCreated, "POST", f.tr.policies(), map[string]any{"name": "late", "priority": 500})
		got := f.as(f.author, http.StatusOK, "POST", path+"/apply", nil)
		if got["state"] != "applied" {
			t.Fatalf("apply: %v", got)
		}
		pols := s.must(http.StatusOK, "GET", f.tr.policies(), nil)["items"].([]any)
		if len(pols) != 2 {
			t.Fatalf("policies after the candidate: %v", pols)
		}
	})

	t.Run("CandidateStaleWhenItsPartChanged", func(t *testing.T) {
		doc := s.must(http.StatusOK, "GET", f.tr.firewall()+"/tree", nil)
		pol := doc["policies"].([]any)[0].(map[string]any)
		pol["description"] = "reviewed"
		cr := f.propose(map[string]any{"candidate": doc})
		path := f.crs() + "/" + cr["id"].(string)
		f.as(f.approver, http.StatusOK, "POST", path+"/approve", nil)
		s.must(http.StatusOK, "PATCH", f.tr.policy(), map[string]any{"description": "changed meanwhile"}, "Content-Type", "application/merge-patch+json")
		assertProblem(t, s.do("POST", path+"/apply", nil, "Authorization", "Bearer "+f.author), http.StatusConflict, "change_request.state", "changed since the base")
	})

	t.Run("ListFilterOrderPage", func(t *testing.T) {
		var ids []string
		path := f.crs() + "?page_size=2&order_by=" + url.QueryEscape("created_at")
		for range 20 {
			page := f.as(f.viewer, http.StatusOK, "GET", path, nil)
			for _, it := range page["items"].([]any) {
				ids = append(ids, it.(map[string]any)["id"].(string))
			}
			tok, _ := page["next_page_token"].(string)
			if tok == "" {
				break
			}
			path = f.crs() + "?page_size=2&order_by=" + url.QueryEscape("created_at") + "&page_token=" + tok
		}
		if len(ids) < 8 || !isSorted(ids) {
			t.Fatalf("paged ids %v", ids)
		}
		stale := f.as(f.viewer, http.StatusOK, "GET", f.crs()+"?filter="+url.QueryEscape(`state = "stale"`), nil)["items"].([]any)
		if len(stale) != 4 { // three applies and one approval found theirs stale
			t.Fatalf("%d stale requests, want 4", len(stale))
		}
		assertProblem(t, s.do("GET", f.crs()+"?filter="+url.QueryEscape(`colour = "red"`), nil), http.StatusBadRequest, "query.filter", "")
	})
}

func TestChangeRequestBadInput(t *testing.T) {
	s := newTestServer(t)
	f := newCRFixture(t, s)
	rev := f.revision()
	cases := []struct {
		name     string
		body     any
		status   int
		location string
	}{
		{"NoTitle", map[string]any{"base_revision": rev, "operations": []any{denySSH()}}, 400, "body"},
		{"BlankTitle", map[string]any{"title": " x", "base_revision": rev, "operations": []any{denySSH()}}, 400, "body.title"},
		{"NeitherForm", map[string]any{"title": "x", "base_revision": rev}, 400, "body.operations"},
		{"BothForms", map[string]any{"title": "x", "base_revision": rev, "operations": []any{denySSH()}, "candidate": map[string]any{"name": "edge"}}, 400, "body.operations"},
		{"EmptyOperations", map[string]any{"title": "x", "base_revision": rev, "operations": []any{}}, 400, "body.operations"},
		{"UnknownOp", map[string]any{"title": "x", "base_revision": rev, "operations": []any{map[string]any{"op": "explode"}}}, 400, "body.operations[0].op"},
		{"BadCIDR", map[string]any{"title": "x", "base_revision": rev, "operations": []any{map[string]any{"op": "create_rule", "policy_name": "baseline",
			"rule": map[string]any{"action": "deny", "sources": []string{"10.0.0.1/8"}}}}}, 400, "body.operations[0].rule.sources[0]"},
		{"MissingRule", map[string]any{"title": "x", "base_revision": rev, "operations": []any{map[string]any{"op": "delete_rule", "policy_name": "baseline",
			"rule_id": "nope"}}}, 400, "body.operations[0].rule_id"},
		{"PolicyTwice", map[string]any{"title": "x", "base_revision": rev, "operations": []any{map[string]any{"op": "create_policy",
			"policy": map[string]any{"name": "baseline", "priority": 7}}}}, 400, "body.operations[0].policy.name"},
		{"NoPolicyNamed", map[string]any{"title": "x", "base_revision": rev, "operations": []any{map[string]any{"op": "patch_rule",
			"rule_id": f.web, "rule_patch": map[string]any{}}}}, 400, "body.operations[0].policy_id"},
		{"StrayField", map[string]any{"title": "x", "base_revision": rev, "operations": []any{map[string]any{"op": "delete_rule", "policy_name": "baseline",
			"rule_id": f.web, "position": 3}}}, 400, "body.operations[0].position"},
		{"BaseAhead", map[string]any{"title": "x", "base_revision": rev + 5, "operations": []any{denySSH()}}, 409, "body.base_revision"},
		{"BaseZero", map[string]any{"title": "x", "base_revision": 0, "operations": []any{denySSH()}}, 400, "body.base_revision"},
		{"BadCandidate", map[string]any{"title": "x", "base_revision": rev, "candidate": map[string]any{"name": "edge",
			"policies": []any{map[string]any{"name": "p", "priority": 1, "rules": []any{map[string]any{"action": "maybe"}}}}}}, 400, "body.candidate.policies[0].rules[0].action"},
		{"UnknownField", map[string]any{"title": "x", "base_revision": rev, "operations": []any{denySSH()}, "colour": "red"}, 400, ""},
		{"NotJSON", "{", 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assertProblem(t, s.do("POST", f.crs(), tc.body), tc.status, tc.location, "")
		})
	}
	// An older kept revision is a valid base: the impact is computed
	// against the tree as of that revision, not the current one.
	t.Run("OlderBase", func(t *testing.T) {
		s.newRule(f.tr, nil)
		res := s.do("POST", f.crs(), map[string]any{"title": "x", "base_revision": rev, "operations": []any{denySSH()}})
		if res.Status != http.StatusCreated {
			t.Fatalf("status %d, want 201: %s", res.Status, res.Body)
		}
		cr := res.JSON(t)
		rules := cr["impact"].(map[string]any)["structural"].(map[string]any)["rules"].([]any)
		if cr["base_revision"] != float64(rev) || len(rules) != 1 || rules[0].(map[string]any)["change"] != "added" {
			t.Fatalf("base_revision %v, structural rules %v; want %d and the one added rule", cr["base_revision"], rules, rev)
		}
	})
	t.Run("LongComment", func(t *testing.T) {
		cr := f.propose(map[string]any{"operations": []any{denySSH()}})
		res := s.do("POST", f.crs()+"/"+cr["id"].(string)+"/approve", map[string]any{"comment": strings.Repeat("x", 5000)},
			"Authorization", "Bearer "+f.approver)
		assertProblem(t, res, http.StatusBadRequest, "body.comment", "")
	})
	t.Run("Missing", func(t *testing.T) {
		assertProblem(t, s.do("GET", f.crs()+"/nope", nil), http.StatusNotFound, "", "")
		assertProblem(t, s.do("POST", f.crs()+"/nope/apply", nil), http.StatusNotFound, "", "")
		assertProblem(t, s.do("GET", "/api/v1/firewalls/nope/change-requests", nil), http.StatusNotFound, "", "")
	})
}

func isSorted(ids []string) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i] < ids[i-1] {
			return false
		}
	}
	return true
}
