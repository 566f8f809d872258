package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/pgtest"
)

// faultLog collects what the writers of TestPostgresOutage saw.
type faultLog struct {
	mu          sync.Mutex
	acked       []string // ids of the rules answered 201
	unavailable int      // 503 answers
	slowest503  time.Duration
	bad         []string // anything else: a 500, a hang, a 503 that is not problem+json
}

func (l *faultLog) counts() (acked, unavailable int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), l.unavailable
}

// record files one answer to a create.
func (l *faultLog) record(res reply, err error, took time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.bad = append(l.bad, fmt.Sprintf("no answer after %v: %v", took, err))
	case res.status == http.StatusCreated:
		l.acked = append(l.acked, res.body["id"].(string))
	case res.status == http.StatusServiceUnavailable && res.contentType == "application/problem+json" && res.body["status"] == float64(503):
		l.unavailable++
		l.slowest503 = max(l.slowest503, took)
	default:
		l.bad = append(l.bad, fmt.Sprintf("%d %s %v", res.status, res.contentType, res.body))
	}
}

// waitFor polls cond until it holds, and fails the test if it does not
// within a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPostgresOutage stops PostgreSQL, as a crash ("immediate") and as an
// orderly shutdown ("fast"), while writers create rules through a real
// server. While it is down every request must answer 503 problem+json
// (never a 500, never a hang) and /readyz 503; once it is back the same
// server recovers by itself; and every rule answered 201 must be in the
// database.
func TestPostgresOutage(t *testing.T) {
	for _, mode := range []string{"immediate", "fast"} {
		t.Run(mode, func(t *testing.T) { testOutage(t, mode) })
	}
}

func testOutage(t *testing.T, mode string) {
	cluster := pgtest.NewCluster(t)
	dbURL := cluster.URL("postgres")
	if _, err := migrateCmd(t, dbURL, "up"); err != nil {
		t.Fatal(err)
	}
	r := startReplica(t, dbURL)
	r.pollReady(http.StatusOK)
	_, rulesPath := newPolicy(r, "edge")

	var log faultLog
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				res, err := r.send("POST", rulesPath, map[string]any{"action": "allow", "description": fmt.Sprintf("w%d-%d", w, i)})
				log.record(res, err, time.Since(start))
				if res.status == http.StatusServiceUnavailable {
					time.Sleep(5 * time.Millisecond) // as a client backing off would
				}
			}
		})
	}
	halt := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer halt() // when the test fails early

	waitFor(t, "20 rules before the outage", func() bool { a, _ := log.counts(); return a >= 20 })
	if err := cluster.Stop(t.Context(), mode); err != nil {
		t.Fatal(err)
	}
	ackedBefore, _ := log.counts()
	waitFor(t, "20 answers of 503 during the outage", func() bool { _, u := log.counts(); return u >= 20 })
	r.pollReady(http.StatusServiceUnavailable)
	res, err := r.send("GET", rulesPath, nil)
	if err != nil || res.status != http.StatusServiceUnavailable || res.contentType != "application/problem+json" {
		t.Errorf("a read during the outage: %+v %v, want 503 problem+json", res, err)
	}

	if err := cluster.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.pollReady(http.StatusOK)
	waitFor(t, "20 more rules after the outage", func() bool { a, _ := log.counts(); return a >= ackedBefore+20 })
	halt()

	log.mu.Lock()
	defer log.mu.Unlock()
	for _, b := range log.bad {
		t.Errorf("a create during the outage answered: %s", b)
	}
	t.Logf("%d creates acknowledged, %d answered 503 (slowest %v)", len(log.acked), log.unavailable, log.slowest503)
	stored := map[string]bool{}
	for _, id := range ruleIDs(r, rulesPath) {
		stored[id] = true
	}
	for _, id := range log.acked {
		if !stored[id] {
			t.Errorf("rule %s was acknowledged with 201 but is not stored", id)
		}
	}
}
