// Command seed fills a running FireFlow server with benchmark data.
//
// It creates -firewalls firewalls, one filtering policy on the first of them
// and -rules rules in that policy, then reads every firewall back. It writes,
// into -out:
//
//	get_paths.txt   one GET-by-id path per line, in random order
//	rules_path.txt  the path of the rules listing (page_size=-rules)
//	firewalls.jsonl the body of GET /api/v1/firewalls/{id}, one per line,
//	                for the bare baseline server
//	create_paths.txt with -policies N: the rules path of a new policy in
//	                each of N further firewalls, for the rule-creation attack
//
// If FIREFLOW_BENCH_TOKEN is set it is sent as a bearer token.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

type client struct {
	base  string
	token string
	http  *http.Client
}

func run() error {
	base := flag.String("base", "http://127.0.0.1:8080", "FireFlow base URL (loopback only)")
	nFirewalls := flag.Int("firewalls", 1000, "number of firewalls to create")
	nRules := flag.Int("rules", 50, "number of rules in the benchmark policy")
	nPolicies := flag.Int("policies", 0, "create a policy in this many other firewalls and list their rules paths in create_paths.txt")
	concurrency := flag.Int("concurrency", 8, "parallel requests")
	out := flag.String("out", ".", "output directory")
	timeout := flag.Duration("timeout", 60*time.Second, "overall time limit")
	flag.Parse()

	if err := checkLoopback(*base); err != nil {
		return err
	}
	if *nFirewalls < 1 || *nRules < 0 || *concurrency < 1 || *nPolicies < 0 || *nPolicies >= *nFirewalls {
		return errors.New("-firewalls and -concurrency must be >= 1, -rules >= 0, 0 <= -policies < -firewalls")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	c := &client{
		base:  strings.TrimRight(*base, "/"),
		token: os.Getenv("FIREFLOW_BENCH_TOKEN"),
		http: &http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency, MaxConnsPerHost: *concurrency},
		},
	}
	start := time.Now()
	prefix := fmt.Sprintf("bench-%d", time.Now().Unix())

	// Firewalls, in parallel.
	ids := make([]string, *nFirewalls)
	err := parallel(ctx, *nFirewalls, *concurrency, func(ctx context.Context, i int) error {
		var created struct {
			ID string `json:"id"`
		}
		body := map[string]any{
			"name":        fmt.Sprintf("%s-fw-%05d", prefix, i),
			"description": "benchmark firewall",
			"labels":      map[string]string{"bench": "true", "shard": fmt.Sprint(i % 10)},
		}
		if err := c.do(ctx, http.MethodPost, "/api/v1/firewalls", body, http.StatusCreated, &created); err != nil {
			return fmt.Errorf("create firewall %d: %w", i, err)
		}
		if created.ID == "" {
			return fmt.Errorf("create firewall %d: no id in response", i)
		}
		ids[i] = created.ID
		return nil
	})
	if err != nil {
		return err
	}
	tFirewalls := time.Since(start)

	// One policy with the rules, in order (positions are appended).
	fid := ids[0]
	var policy struct {
		ID string `json:"id"`
	}
	policiesPath := "/api/v1/firewalls/" + fid + "/filtering-policies"
	if err := c.do(ctx, http.MethodPost, policiesPath,
		map[string]any{"name": "bench-policy", "priority": 100}, http.StatusCreated, &policy); err != nil {
		return fmt.Errorf("create policy: %w", err)
	}
	if policy.ID == "" {
		return errors.New("create policy: no id in response")
	}
	rulesPath := policiesPath + "/" + policy.ID + "/rules"
	for i := 0; i < *nRules; i++ {
		rule := map[string]any{
			"action":            []string{"allow", "deny"}[i%2],
			"protocol":          []string{"tcp", "udp"}[i%2],
			"destinations":      []string{fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)},
			"destination_ports": []string{fmt.Sprint(1000 + i)},
		}
		if err := c.do(ctx, http.MethodPost, rulesPath, rule, http.StatusCreated, nil); err != nil {
			return fmt.Errorf("create rule %d: %w", i+1, err)
		}
	}
	listPath := fmt.Sprintf("%s?page_size=%d", rulesPath, max(*nRules, 1))
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, listPath, nil, http.StatusOK, &list); err != nil {
		return fmt.Errorf("list rules: %w", err)
	}
	if len(list.Items) != *nRules {
		return fmt.Errorf("list rules: got %d items, want %d", len(list.Items), *nRules)
	}

	// Read every firewall back: checks the GET path and captures the exact
	// bodies for the bare server.
	bodies := make([][]byte, len(ids))
	err = parallel(ctx, len(ids), *concurrency, func(ctx context.Context, i int) error {
		var raw json.RawMessage
		if err := c.do(ctx, http.MethodGet, "/api/v1/firewalls/"+ids[i], nil, http.StatusOK, &raw); err != nil {
			return fmt.Errorf("get firewall %s: %w", ids[i], err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return err
		}
		bodies[i] = buf.Bytes()
		return nil
	})
	if err != nil {
		return err
	}

	// Policies to create rules in, each in its own firewall, so that the
	// creation attack measures the store rather than one firewall's lock.
	createPaths := make([]string, *nPolicies)
	err = parallel(ctx, *nPolicies, *concurrency, func(ctx context.Context, i int) error {
		path := "/api/v1/firewalls/" + ids[i+1] + "/filtering-policies"
		var p struct {
			ID string `json:"id"`
		}
		if err := c.do(ctx, http.MethodPost, path, map[string]any{"name": "bench-create", "priority": 200}, http.StatusCreated, &p); err != nil {
			return fmt.Errorf("create policy %d: %w", i, err)
		}
		createPaths[i] = path + "/" + p.ID + "/rules"
		return nil
	})
	if err != nil {
		return err
	}

	shuffled := make([]string, len(ids))
	for i, j := range rand.Perm(len(ids)) {
		shuffled[i] = "/api/v1/firewalls/" + ids[j]
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeLines(filepath.Join(*out, "get_paths.txt"), shuffled); err != nil {
		return err
	}
	if err := writeLines(filepath.Join(*out, "rules_path.txt"), []string{listPath}); err != nil {
		return err
	}
	if *nPolicies > 0 {
		if err := writeLines(filepath.Join(*out, "create_paths.txt"), createPaths); err != nil {
			return err
		}
	}
	lines := make([]string, len(bodies))
	for i, b := range bodies {
		lines[i] = string(b)
	}
	if err := writeLines(filepath.Join(*out, "firewalls.jsonl"), lines); err != nil {
		return err
	}
	fmt.Printf("seeded %d firewalls in %s, 1 policy with %d rules, total %s\n",
		len(ids), tFirewalls.Round(time.Millisecond), *nRules, time.Since(start).Round(time.Millisecond))
	return nil
}

// do sends one JSON request, retrying a few times on 429/503 and transport
// errors, and decodes the response into out when out is not nil.
func (c *client) do(ctx context.Context, method, path string, in any, want int, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(ctx.Err(), lastErr)
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				return lastErr
			}
			continue
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			lastErr = fmt.Errorf("%s %s: %s", method, path, resp.Status)
			continue
		}
		if resp.StatusCode != want {
			return fmt.Errorf("%s %s: %s (want %d): %s", method, path, resp.Status, want, truncate(data, 300))
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: decode: %w", method, path, err)
			}
		}
		return nil
	}
	return lastErr
}

// parallel runs fn for 0..n-1 on at most workers goroutines and returns the
// first error; after an error the remaining items are skipped.
func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// checkLoopback refuses any base URL that is not on the loopback interface.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("bad -base: %w", err)
	}
	switch h := u.Hostname(); {
	case h == "localhost", h == "::1", strings.HasPrefix(h, "127."):
		return nil
	default:
		return fmt.Errorf("refusing non-loopback target %q", h)
	}
}

func writeLines(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
