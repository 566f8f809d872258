package main

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
)

// as returns a copy of r that sends token instead of its own.
func (r *replica) as(t *testing.T, sub string, roles ...string) *replica {
	t.Helper()
	tok, err := auth.Mint([]byte(replicaSecret), sub, roles, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := *r
	c.token = tok
	return &c
}

// TestChangeRequestsApplyOnceAcrossReplicas makes pairs of change requests
// on the same base that change the same rule, approves both, and applies
// them at once through two production replicas on one PostgreSQL: exactly
// one applies and the other goes stale with its reason, and the rule ends
// as the winner set it, with every audit event of the change naming it.
func TestChangeRequestsApplyOnceAcrossReplicas(t *testing.T) {
	rs := startReplicas(t, 2)
	fwPath, rulesPath := newPolicy(rs[0], "edge")
	web := rs[0].must(http.StatusCreated, "POST", rulesPath, map[string]any{"action": "allow", "name": "web", "protocol": "tcp",
		"destination_ports": []string{"443"}})["id"].(string)
	crs := fwPath + "/change-requests"
	authors := []*replica{rs[0].as(t, "alice", "editor"), rs[1].as(t, "carol", "editor")}
	approver := rs[1].as(t, "bob", "approver")

	const rounds = 5
	for round := range rounds {
		rev := int64(rs[0].must(http.StatusOK, "GET", fwPath, nil)["revision"].(float64))
		// Both requests change the rule's action, to the two actions it
		// does not have, so that neither is a no-op.
		cur := rs[0].must(http.StatusOK, "GET", rulesPath+"/"+web, nil)["action"]
		var actions []string
		for _, a := range []string{"allow", "deny", "reject"} {
			if a != cur {
				actions = append(actions, a)
			}
		}
		var ids []string
		for i, a := range authors {
			cr := a.must(http.StatusCreated, "POST", crs, map[string]any{"title": fmt.Sprintf("round %d by %d", round, i), "base_revision": rev,
				"operations": []any{map[string]any{"op": "patch_rule", "policy_name": "edge-policy", "rule_id": web,
					"rule_patch": map[string]any{"action": actions[i]}}}})
			approver.must(http.StatusOK, "POST", crs+"/"+cr["id"].(string)+"/approve", nil)
			ids = append(ids, cr["id"].(string))
		}
		var wg sync.WaitGroup
		replies := make([]reply, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		for i := range authors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				replies[i], errs[i] = authors[i].send("POST", crs+"/"+ids[i]+"/apply", map[string]any{"comment": "go"})
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, res := range replies {
			if errs[i] != nil {
				t.Fatalf("round %d: apply %d: %v", round, i, errs[i])
			}
			switch res.status {
			case http.StatusOK:
				if winner >= 0 {
					t.Fatalf("round %d: both requests applied: %v, %v", round, replies[0].body, replies[1].body)
				}
				winner = i
			case http.StatusConflict:
				if res.contentType != "application/problem+json" {
					t.Fatalf("round %d: 409 as %s", round, res.contentType)
				}
			default:
				t.Fatalf("round %d: apply %d answered %d %v", round, i, res.status, res.body)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither request applied: %v, %v", round, replies[0].body, replies[1].body)
		}
		loser := 1 - winner
		lost := rs[0].must(http.StatusOK, "GET", crs+"/"+ids[loser], nil)
		if lost["state"] != "stale" || lost["stale_reason"] == "" {
			t.Fatalf("round %d: the other request is %v", round, lost)
		}
		won := rs[1].must(http.StatusOK, "GET", crs+"/"+ids[winner], nil)
		after := rs[1].must(http.StatusOK, "GET", fwPath, nil)["revision"].(float64)
		if won["state"] != "applied" || won["applied_revision"].(float64) != after || after != float64(rev+1) {
			t.Fatalf("round %d: winner %v, firewall at %v from %d", round, won, after, rev)
		}
		if got := rs[0].must(http.StatusOK, "GET", rulesPath+"/"+web, nil)["action"]; got != actions[winner] {
			t.Fatalf("round %d: the rule's action is %v, want the winner's %s", round, got, actions[winner])
		}
		events := rs[0].must(http.StatusOK, "GET", "/api/v1/audit-events?filter="+
			url.QueryEscape(fmt.Sprintf(`change_request_id = %q AND resource_type = "rule"`, ids[winner])), nil)["items"].([]any)
		if len(events) != 1 {
			t.Fatalf("round %d: %d rule events name the winner, want 1", round, len(events))
		}
		none := rs[0].must(http.StatusOK, "GET", "/api/v1/audit-events?filter="+
			url.QueryEscape(fmt.Sprintf(`change_request_id = %q AND resource_type = "rule"`, ids[loser])), nil)["items"].([]any)
		if len(none) != 0 {
			t.Fatalf("round %d: the stale request left rule events: %v", round, none)
		}
	}
}
