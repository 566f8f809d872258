package main

import (
	"net/http"
	"testing"
)

// TestReplicasSeeGroupChanges changes an address group nested inside the
// group a rule uses, and a service group, through replica A, and evaluates
// through replica B at once: the change raises the firewall's revision in
// the same transaction, so B's cached matcher is stale on its next check.
func TestReplicasSeeGroupChanges(t *testing.T) {
	rs := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	fwPath, rulesPath := newPolicy(a, "edge-groups")
	web := a.must(http.StatusCreated, "POST", "/api/v1/address-groups", map[string]any{"name": "web", "addresses": []string{"10.1.0.0/16"}})
	a.must(http.StatusCreated, "POST", "/api/v1/address-groups", map[string]any{"name": "dmz", "groups": []string{"web"}})
	svc := a.must(http.StatusCreated, "POST", "/api/v1/service-groups", map[string]any{"name": "https",
		"services": []map[string]any{{"protocol": "tcp", "ports": []string{"443"}}}})
	a.must(http.StatusCreated, "POST", rulesPath, map[string]any{"action": "allow", "destination_groups": []string{"dmz"}, "service_groups": []string{"https"}})
	decide := func(r *replica, dst string, port int) string {
		t.Helper()
		res := r.must(http.StatusOK, "POST", fwPath+"/evaluate", map[string]any{"flow": map[string]any{"protocol": "tcp",
			"source_ip": "192.0.2.1", "destination_ip": dst, "source_port": 5000, "destination_port": port}})
		return res["decision"].(map[string]any)["action"].(string)
	}
	// B compiles and caches the tree first.
	if got := decide(b, "10.1.2.3", 443); got != "allow" {
		t.Fatalf("B before any change: %s, want allow", got)
	}
	if got := decide(b, "10.2.2.3", 443); got != "deny" {
		t.Fatalf("B before any change, outside the group: %s, want deny", got)
	}
	a.must(http.StatusOK, "PATCH", "/api/v1/address-groups/"+web["id"].(string), map[string]any{"addresses": []string{"10.2.0.0/16"}})
	if got := decide(b, "10.1.2.3", 443); got != "deny" {
		t.Fatalf("B right after A moved web: %s, want deny", got)
	}
	if got := decide(b, "10.2.2.3", 443); got != "allow" {
		t.Fatalf("B right after A moved web, new member: %s, want allow", got)
	}
	a.must(http.StatusOK, "PATCH", "/api/v1/service-groups/"+svc["id"].(string), map[string]any{"services": []map[string]any{{"protocol": "tcp", "ports": []string{"8443"}}}})
	if got := decide(b, "10.2.2.3", 443); got != "deny" {
		t.Fatalf("B right after A changed https: %s, want deny", got)
	}
	if got := decide(b, "10.2.2.3", 8443); got != "allow" {
		t.Fatalf("B right after A changed https, new port: %s, want allow", got)
	}
}
