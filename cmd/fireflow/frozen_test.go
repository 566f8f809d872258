package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/pgtest"
)

// TestFrozenPostgres stops every PostgreSQL process with SIGSTOP, as a
// hung host would: the kernel still accepts connections and acknowledges
// data, but nothing answers. Every request must still get its answer,
// 503 problem+json, within the configured bounds (the test's client waits
// far longer), /readyz must answer 503, and once the server resumes, no
// create sent during the freeze, whether its client waited for the 503 or
// gave up, may have been committed.
func TestFrozenPostgres(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	dbURL := cluster.URL("postgres")
	if _, err := migrateCmd(t, dbURL, "up"); err != nil {
		t.Fatal(err)
	}
	// Bounds far below the client's minute, so that an answer at all shows
	// that they hold.
	r := startReplica(t, dbURL, "--db-acquire-timeout", "2s", "--db-statement-timeout", "2s",
		"--db-idle-in-transaction-timeout", "2s", "--db-tcp-timeout", "6s", "--ready-timeout", "1s")
	r.client = &http.Client{Timeout: time.Minute}
	r.pollReady(http.StatusOK)
	_, rulesPath := newPolicy(r, "frozen")
	before := len(ruleIDs(r, rulesPath))
	r.must(http.StatusCreated, "POST", rulesPath, map[string]any{"action": "allow", "description": "before the freeze"})

	if err := cluster.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resume := func() {
		if err := cluster.Signal(syscall.SIGCONT); err != nil {
			t.Errorf("resume PostgreSQL: %v", err)
		}
	}
	t.Cleanup(resume) // always, even when the test fails: the cluster's cleanup needs a live server

	requests := []struct {
		name         string
		method, path string
		body         any
	}{
		{"list rules", "GET", rulesPath, nil},
		{"create a rule", "POST", rulesPath, map[string]any{"action": "deny", "description": "during the freeze 1"}},
		{"create another", "POST", rulesPath, map[string]any{"action": "deny", "description": "during the freeze 2"}},
		{"list firewalls", "GET", "/api/v1/firewalls", nil},
	}
	for _, req := range requests {
		t.Run(req.name, func(t *testing.T) {
			res, err := r.send(req.method, req.path, req.body)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if res.status != http.StatusServiceUnavailable || res.contentType != "application/problem+json" || res.body["status"] != float64(503) {
				t.Errorf("%d %s %v, want 503 application/problem+json", res.status, res.contentType, res.body)
			}
		})
	}
	t.Run("readyz", func(t *testing.T) {
		res, err := r.send("GET", "/readyz", nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if res.status != http.StatusServiceUnavailable || res.contentType != "application/problem+json" {
			t.Errorf("%d %s %v, want 503 application/problem+json", res.status, res.contentType, res.body)
		}
	})
	t.Run("a client that gives up", func(t *testing.T) {
		// This client stops waiting long before the server's bounds; the
		// server sees the request's context end.
		impatient := &http.Client{Timeout: 200 * time.Millisecond}
		body, _ := json.Marshal(map[string]any{"action": "deny", "description": "abandoned"})
		req, err := http.NewRequest("POST", r.url+rulesPath, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+r.token)
		if res, err := impatient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("the abandoned create answered %d, want no answer yet or 503", res.StatusCode)
			}
		}
	})

	resume()
	r.pollReady(http.StatusOK)
	ids := ruleIDs(r, rulesPath)
	if len(ids) != before+1 {
		descriptions := make([]string, 0, len(ids))
		for _, id := range ids {
			rule := r.must(http.StatusOK, "GET", fmt.Sprintf("%s/%s", rulesPath, id), nil)
			descriptions = append(descriptions, fmt.Sprint(rule["description"]))
		}
		t.Fatalf("after the freeze the policy holds %q; only the rule made before it may be there", descriptions)
	}
	// The service works again on the same pool.
	r.must(http.StatusCreated, "POST", rulesPath, map[string]any{"action": "allow", "description": "after the freeze"})
}
