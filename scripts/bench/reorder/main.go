// Command reorder is the client of scripts/bench-reorder.sh: clients spread
// over several FireFlow servers (one process each, on one database) insert
// rules at random positions of one policy and move its rules to random
// positions, as fast as they can, for a bounded number of requests. It
// prints the latency percentiles of each kind, fails on any request that
// does not succeed, and checks at the end that every server lists the same
// rules at positions 1..n.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reorder:", err)
		os.Exit(1)
	}
}

type client struct {
	http  *http.Client
	base  string
	token string
}

// call sends one request and decodes the JSON answer into out (if not nil).
func (c client) call(method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type rule struct {
	ID       string `json:"id"`
	Position int    `json:"position"`
}

// list reads every rule of the policy and checks that positions are 1..n.
func (c client) list(rulesPath string) ([]string, error) {
	var ids []string
	path := rulesPath + "?page_size=1000"
	for {
		var page struct {
			Items []rule `json:"items"`
			Next  string `json:"next_page_token"`
		}
		if err := c.call("GET", path, nil, http.StatusOK, &page); err != nil {
			return nil, err
		}
		for _, r := range page.Items {
			ids = append(ids, r.ID)
			if r.Position != len(ids) {
				return nil, fmt.Errorf("%s lists rule %d at position %d", c.base, len(ids), r.Position)
			}
		}
		if page.Next == "" {
			return ids, nil
		}
		path = rulesPath + "?page_size=1000&page_token=" + page.Next
	}
}

func run() error {
	bases := flag.String("bases", "", "comma-separated server URLs, one per process")
	token := flag.String("token", "", "an editor's bearer token")
	clients := flag.Int("clients", 20, "concurrent clients, spread over the servers")
	requests := flag.Int("requests", 50, "requests per client, half inserts and half moves")
	rules := flag.Int("rules", 100, "rules in the policy before the clients start")
	flag.Parse()
	if *bases == "" || *token == "" {
		return errors.New("-bases and -token are required")
	}
	var cs []client
	for _, b := range strings.Split(*bases, ",") {
		cs = append(cs, client{http: &http.Client{Timeout: 60 * time.Second}, base: b, token: *token})
	}
	c := cs[0]
	var fw, pol rule
	if err := c.call("POST", "/api/v1/firewalls", map[string]any{"name": fmt.Sprintf("reorder-%d", time.Now().UnixNano())}, http.StatusCreated, &fw); err != nil {
		return err
	}
	fwPath := "/api/v1/firewalls/" + fw.ID
	if err := c.call("POST", fwPath+"/filtering-policies", map[string]any{"name": "main", "priority": 1}, http.StatusCreated, &pol); err != nil {
		return err
	}
	rulesPath := fwPath + "/filtering-policies/" + pol.ID + "/rules"
	for range *rules {
		if err := c.call("POST", rulesPath, map[string]any{"action": "allow"}, http.StatusCreated, nil); err != nil {
			return err
		}
	}
	seed, err := c.list(rulesPath)
	if err != nil {
		return err
	}

	type sample struct {
		kind string
		d    time.Duration
	}
	var mu sync.Mutex
	var samples []sample
	var errs []error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range *clients {
		cl := cs[w%len(cs)]
		rng := rand.New(rand.NewPCG(uint64(w), 13))
		wg.Go(func() {
			for i := range *requests {
				// Positions within the seed rules stay valid whatever the
				// others do, since rules are only added.
				kind, t0 := "insert", time.Now()
				var err error
				if i%2 == 0 {
					err = cl.call("POST", rulesPath, map[string]any{"action": "deny", "position": 1 + rng.IntN(*rules+1)}, http.StatusCreated, nil)
				} else {
					kind = "move"
					err = cl.call("POST", rulesPath+"/"+seed[rng.IntN(*rules)]+"/move", map[string]any{"position": 1 + rng.IntN(*rules)}, http.StatusOK, nil)
				}
				mu.Lock()
				samples = append(samples, sample{kind, time.Since(t0)})
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return fmt.Errorf("%d requests failed, the first: %w", len(errs), errs[0])
	}
	fmt.Printf("%d clients over %d servers, %d requests each, policy of %d rules at the start: %.0f requests/s\n",
		*clients, len(cs), *requests, *rules, float64(len(samples))/elapsed.Seconds())
	for _, kind := range []string{"insert", "move", "all"} {
		var ds []time.Duration
		for _, s := range samples {
			if kind == "all" || s.kind == kind {
				ds = append(ds, s.d)
			}
		}
		slices.Sort(ds)
		pct := func(p float64) time.Duration { return ds[int(float64(len(ds)-1)*p)].Round(10 * time.Microsecond) }
		fmt.Printf("  %-6s n=%-5d p50 %-10v p90 %-10v p99 %-10v max %v\n", kind, len(ds), pct(0.5), pct(0.9), pct(0.99), ds[len(ds)-1])
	}
	var lists [][]string
	for _, cl := range cs {
		ids, err := cl.list(rulesPath)
		if err != nil {
			return err
		}
		lists = append(lists, ids)
	}
	for i := range lists[1:] {
		if !slices.Equal(lists[0], lists[i+1]) {
			return errors.New("the servers list different orders")
		}
	}
	if want := *rules + *clients*((*requests+1)/2); len(lists[0]) != want {
		return fmt.Errorf("%d rules at the end, want %d", len(lists[0]), want)
	}
	fmt.Printf("  the servers agree: %d rules at positions 1..%d\n", len(lists[0]), len(lists[0]))
	return nil
}
