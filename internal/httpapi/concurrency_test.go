package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// concDo sends one request from any goroutine; unlike testServer.do it
// reports transport errors instead of failing the test.
func (s *testServer) concDo(method, url string, body any, headers ...string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+s.admin)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// concRules is the workers' shared, approximate view of the policy's rules.
type concRules struct {
	mu      sync.Mutex
	ids     []string
	created map[string]bool
	deleted map[string]bool
}

func (c *concRules) add(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, id)
	c.created[id] = true
}

func (c *concRules) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deleted[id] = true
	for i, x := range c.ids {
		if x == id {
			c.ids = append(c.ids[:i], c.ids[i+1:]...)
			return
		}
	}
}

// pick returns a random known rule (possibly one another worker is deleting)
// and the number of rules known.
func (c *concRules) pick(rng *rand.Rand) (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) == 0 {
		return "01936f8e-9e3c-7d50-9f41-7c8d9e0f1a2b", 0
	}
	return c.ids[rng.IntN(len(c.ids))], len(c.ids)
}

// TestConcurrentRuleEdits has 20 workers insert, move and delete rules of
// one policy at once, and checks that the positions stay 1..n, that n and
// the ids add up, and that the revision counts every change exactly once.
func TestConcurrentRuleEdits(t *testing.T) {
	const (
		workers      = 20
		opsPerWorker = 15
		initial      = 10
	)
	s := newTestServer(t)
	tr := s.newTree("edge") // revision 2: firewall create, policy create
	rules := &concRules{created: map[string]bool{}, deleted: map[string]bool{}}
	for range initial {
		rules.add(s.newRule(tr, nil))
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	t.Cleanup(client.CloseIdleConnections)

	var creates, moves, deletes atomic.Int64
	statuses := map[string]map[int]int{}
	var statusMu sync.Mutex
	record := func(op string, status int) {
		statusMu.Lock()
		defer statusMu.Unlock()
		if statuses[op] == nil {
			statuses[op] = map[int]int{}
		}
		statuses[op][status]++
	}
	// check accepts a status for op, counting 2xx answers in ok.
	check := func(op string, status int, body []byte, err error, want int, ok *atomic.Int64) bool {
		if err != nil {
			t.Errorf("%s: %v (the outcome is unknown, so the counts below cannot be trusted)", op, err)
			return false
		}
		record(op, status)
		switch {
		case status == want:
			ok.Add(1)
			return true
		case status >= 500:
			t.Errorf("BUG (non-test code): %s answered %d under concurrency: %s", op, status, body)
		case status == http.StatusBadRequest, status == http.StatusNotFound, status == http.StatusPreconditionFailed:
			// A race with another worker: position out of range, rule or anchor deleted, or stale etag.
			var p Problem
			if json.Unmarshal(body, &p) != nil || p.RequestID == "" || p.Status != status {
				t.Errorf("%s answered %d without a proper problem: %s", op, status, body)
			}
		default:
			t.Errorf("%s answered %d, which no race explains: %s", op, status, body)
		}
		return false
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			<-start
			for range opsPerWorker {
				id, n := rules.pick(rng)
				ruleURL := s.url + tr.rules() + "/" + id
				switch op := rng.IntN(100); {
				case op < 35: // insert at a random position, sometimes just past the end
					body := map[string]any{"action": "allow"}
					if rng.IntN(5) > 0 {
						body["position"] = 1 + rng.IntN(n+2)
					}
					status, b, err := s.concDo("POST", s.url+tr.rules(), body)
					if check("create", status, b, err, http.StatusCreated, &creates) {
						var r Rule
						if err := json.Unmarshal(b, &r); err != nil {
							t.Errorf("create answered %s: %v", b, err)
							continue
						}
						rules.add(r.ID)
					}
				case op < 55: // move by position
					status, b, err := s.concDo("POST", ruleURL+"/move", map[string]any{"position": 1 + rng.IntN(max(n, 1))})
					check("move position", status, b, err, http.StatusOK, &moves)
				case op < 70: // move before or after another rule
					anchor, _ := rules.pick(rng)
					field := []string{"before", "after"}[rng.IntN(2)]
					status, b, err := s.concDo("POST", ruleURL+"/move", map[string]any{field: anchor})
					check("move "+field, status, b, err, http.StatusOK, &moves)
				case op < 85: // read the rule, then move it conditionally
					status, b, err := s.concDo("GET", ruleURL, nil)
					if err != nil || status != http.StatusOK {
						if err == nil && status >= 500 {
							t.Errorf("BUG (non-test code): GET answered %d under concurrency: %s", status, b)
						}
						continue
					}
					var r Rule
					_ = json.Unmarshal(b, &r)
					status, b, err = s.concDo("POST", ruleURL+"/move", map[string]any{"position": 1 + rng.IntN(max(n, 1))},
						"If-Match", `"`+r.ETag+`"`)
					check("move if-match", status, b, err, http.StatusOK, &moves)
				default: // delete
					status, b, err := s.concDo("DELETE", ruleURL, nil)
					if check("delete", status, b, err, http.StatusNoContent, &deletes) {
						rules.remove(id)
					}
				}
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d operations in %v; statuses by operation: %v", workers*opsPerWorker, time.Since(began), statuses)
	t.Logf("successful: %d creates, %d moves, %d deletes", creates.Load(), moves.Load(), deletes.Load())
	if t.Failed() {
		t.FailNow()
	}

	// Positions are exactly 1..n (ruleIDs checks), ids are unique, and n
	// adds up.
	ids := s.ruleIDs(tr)
	if want := initial + int(creates.Load()) - int(deletes.Load()); len(ids) != want {
		t.Errorf("%d rules, want %d = %d initial + %d created - %d deleted",
			len(ids), want, initial, creates.Load(), deletes.Load())
	}
	listed := map[string]bool{}
	for _, id := range ids {
		if listed[id] {
			t.Errorf("rule %s is listed twice", id)
		}
		listed[id] = true
		if !rules.created[id] || rules.deleted[id] {
			t.Errorf("rule %s is listed but was never created or was deleted", id)
		}
	}
	for id := range rules.created {
		if !rules.deleted[id] && !listed[id] {
			t.Errorf("rule %s was created and not deleted, but is not listed", id)
		}
	}
	// Each rule reads back with the position the list gives it.
	for i, id := range ids {
		r := s.must(http.StatusOK, "GET", tr.rules()+"/"+id, nil)
		if got := int(r["position"].(float64)); got != i+1 {
			t.Errorf("rule %s reads position %d, listed at %d", id, got, i+1)
		}
	}

	// The revision counts the firewall create, the policy create and every
	// successful change in the tree, once each.
	changes := 1 + initial + creates.Load() + moves.Load() + deletes.Load() // 1: the policy create
	rev := int64(crudFirewall(s, tr)["revision"].(float64))
	if rev != 1+changes {
		t.Errorf("revision %d, want %d = 1 + %d successful changes", rev, 1+changes, changes)
	}
}
