package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fireflow/fireflow/internal/pgtest"
)

// startReplicas migrates a fresh database and starts n production replicas
// on it, each ready.
func startReplicas(t *testing.T, n int) []*replica {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	if _, err := migrateCmd(t, dbURL, "up"); err != nil {
		t.Fatal(err)
	}
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = startReplica(t, dbURL)
		rs[i].pollReady(http.StatusOK)
	}
	return rs
}

// newPolicy creates a firewall with one policy through r and returns the
// firewall's path and the policy's rules path.
func newPolicy(r *replica, name string) (fwPath, rulesPath string) {
	fw := r.must(http.StatusCreated, "POST", "/api/v1/firewalls", map[string]any{"name": name})
	fwPath = "/api/v1/firewalls/" + fw["id"].(string)
	p := r.must(http.StatusCreated, "POST", fwPath+"/filtering-policies", map[string]any{"name": name + "-policy", "priority": 100})
	return fwPath, fwPath + "/filtering-policies/" + p["id"].(string) + "/rules"
}

// ruleIDs lists a policy's rules through r, and fails the test unless their
// positions are exactly 1..n.
func ruleIDs(r *replica, rulesPath string) []string {
	r.t.Helper()
	var ids []string
	path := rulesPath + "?page_size=1000"
	for {
		page := r.must(http.StatusOK, "GET", path, nil)
		for _, item := range page["items"].([]any) {
			rule := item.(map[string]any)
			ids = append(ids, rule["id"].(string))
			if pos := int(rule["position"].(float64)); pos != len(ids) {
				r.t.Fatalf("rule %d of the list on %s has position %d; positions must be 1..n", len(ids), r.url, pos)
			}
		}
		token, _ := page["next_page_token"].(string)
		if token == "" {
			return ids
		}
		path = rulesPath + "?page_size=1000&page_token=" + token
	}
}

// TestReplicasSeeEachOthersChanges makes changes through one replica and
// reads and evaluates through the other at once, with no wait: each
// replica checks the firewall's revision in the database before using its
// compiled tree.
func TestReplicasSeeEachOthersChanges(t *testing.T) {
	rs := startReplicas(t, 2)
	a, b := rs[0], rs[1]
	fwPath, rulesPath := newPolicy(a, "edge")

	fw := b.must(http.StatusOK, "GET", fwPath, nil)
	if fw["name"] != "edge" {
		t.Fatalf("B reads %v", fw)
	}
	rule := a.must(http.StatusCreated, "POST", rulesPath, map[string]any{
		"action": "deny", "protocol": "tcp", "destinations": []string{"10.0.0.0/8"}, "destination_ports": []string{"443"}})
	rulePath := rulesPath + "/" + rule["id"].(string)
	flow := map[string]any{"flow": map[string]any{"protocol": "tcp", "source_ip": "192.0.2.1", "destination_ip": "10.1.2.3",
		"source_port": 5000, "destination_port": 443}}

	for i, action := range []string{"allow", "reject", "deny", "allow"} {
		// B evaluates first, so that it holds a compiled tree that A's
		// change then makes stale.
		b.must(http.StatusOK, "POST", fwPath+"/evaluate", flow)
		a.must(http.StatusOK, "PATCH", rulePath, map[string]any{"action": action})
		want := a.must(http.StatusOK, "GET", fwPath, nil)["revision"]
		res := b.must(http.StatusOK, "POST", fwPath+"/evaluate", flow)
		d := res["decision"].(map[string]any)
		if d["action"] != action || d["rule_id"] != rule["id"] || res["revision"] != want {
			t.Fatalf("change %d: B decided %v at revision %v right after A set the rule to %s at revision %v",
				i, d, res["revision"], action, want)
		}
		if got := b.must(http.StatusOK, "GET", rulePath, nil)["action"]; got != action {
			t.Fatalf("change %d: B reads action %v, want %s", i, got, action)
		}
	}

	a.must(http.StatusNoContent, "DELETE", fwPath+"?cascade=true", nil)
	b.must(http.StatusNotFound, "GET", fwPath, nil)
}

// TestReplicasKeepPositionsContiguous inserts and moves rules of one policy
// concurrently through two replicas. Every request must succeed, and both
// replicas must then list the same rules at positions 1..n.
func TestReplicasKeepPositionsContiguous(t *testing.T) {
	rs := startReplicas(t, 2)
	_, rulesPath := newPolicy(rs[0], "edge")
	const initial, workers, perWorker = 10, 6, 15
	for range initial {
		rs[0].must(http.StatusCreated, "POST", rulesPath, map[string]any{"action": "allow"})
	}
	seed := ruleIDs(rs[0], rulesPath)

	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	created := make(chan string, workers*perWorker)
	for w := range workers {
		r := rs[w%len(rs)]
		rng := rand.New(rand.NewPCG(uint64(w), 7))
		wg.Go(func() {
			for i := range perWorker {
				// Positions within the seed rules are valid whatever the
				// other workers have done, since rules are only added.
				var res reply
				var err error
				if i%2 == 0 {
					res, err = r.send("POST", rulesPath, map[string]any{"action": "deny", "position": 1 + rng.IntN(initial+1)})
					if err == nil && res.status == http.StatusCreated {
						created <- res.body["id"].(string)
						continue
					}
				} else {
					id := seed[rng.IntN(initial)]
					res, err = r.send("POST", rulesPath+"/"+id+"/move", map[string]any{"position": 1 + rng.IntN(initial)})
					if err == nil && res.status == http.StatusOK {
						continue
					}
				}
				errs <- fmt.Errorf("worker %d on %s, request %d: %d %v: %w", w, r.url, i, res.status, res.body, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	close(created)
	for err := range errs {
		t.Error(err)
	}
	inserted := map[string]bool{}
	for id := range created {
		inserted[id] = true
	}
	a, b := ruleIDs(rs[0], rulesPath), ruleIDs(rs[1], rulesPath)
	if len(a) != initial+len(inserted) {
		t.Fatalf("%d rules after %d inserts into %d, want %d", len(a), len(inserted), initial, initial+len(inserted))
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("the replicas list different orders:\n%v\n%v", a, b)
	}
	for _, id := range a {
		delete(inserted, id)
	}
	if len(inserted) != 0 {
		t.Fatalf("created rules missing from the list: %v", inserted)
	}
}

// TestIdempotencyKeysHoldAcrossReplicas sends each POST, with one
// Idempotency-Key, to both replicas at the same moment. Exactly one rule
// must come of it, and both answers must carry it.
func TestIdempotencyKeysHoldAcrossReplicas(t *testing.T) {
	rs := startReplicas(t, 2)
	_, rulesPath := newPolicy(rs[0], "edge")
	const rounds, perReplica = 10, 3
	for round := range rounds {
		key := fmt.Sprintf("key-%d", round)
		body := map[string]any{"action": "allow", "description": key}
		var wg sync.WaitGroup
		start := make(chan struct{})
		replies := make(chan reply, len(rs)*perReplica)
		for i := range len(rs) * perReplica {
			r := rs[i%len(rs)]
			wg.Go(func() {
				<-start
				res, err := r.send("POST", rulesPath, body, "Idempotency-Key", key)
				if err != nil {
					t.Errorf("round %d on %s: %v", round, r.url, err)
				}
				replies <- res
			})
		}
		close(start)
		wg.Wait()
		close(replies)
		ids := map[any]int{}
		for res := range replies {
			if res.status != http.StatusCreated {
				t.Fatalf("round %d: %d %v, want 201 (first or replayed)", round, res.status, res.body)
			}
			ids[res.body["id"]]++
		}
		if len(ids) != 1 {
			t.Fatalf("round %d: one key created %d rules: %v", round, len(ids), ids)
		}
	}
	if got := len(ruleIDs(rs[1], rulesPath)); got != rounds {
		t.Fatalf("%d rules after %d keys, want %d", got, rounds, rounds)
	}
}

// TestPostgresPoolMetrics checks that a server on PostgreSQL exports its
// pgx pool's statistics, as a server on SQLite exports its two pools'.
func TestPostgresPoolMetrics(t *testing.T) {
	r := startReplicas(t, 1)[0]
	r.must(http.StatusOK, "GET", "/api/v1/firewalls", nil)
	code, text := fetch(t, r.metricsURL, "")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`fireflow_db_pool_max_connections{pool="postgres"} `,
		`fireflow_db_pool_connections{pool="postgres",state="idle"} `,
		`fireflow_db_pool_connections{pool="postgres",state="in_use"} `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
