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
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oapi-codegen/nullable"

	"github.com/fireflow/fireflow/internal/apiclient"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

// statusCoder is what every response of the generated client has.
type statusCoder interface {
	StatusCode() int
	Status() string
}

// call runs one request of the generated client, retrying a few times on
// 429, 503 and transport errors, and fails unless it answered want.
func call[R statusCoder](ctx context.Context, what string, want int, fn func(context.Context) (R, error)) (R, error) {
	var (
		res     R
		lastErr error
	)
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return res, errors.Join(ctx.Err(), lastErr)
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			}
		}
		var err error
		res, err = fn(ctx)
		switch {
		case err != nil:
			lastErr = fmt.Errorf("%s: %w", what, err)
			if ctx.Err() != nil {
				return res, lastErr
			}
		case res.StatusCode() == http.StatusTooManyRequests || res.StatusCode() == http.StatusServiceUnavailable:
			lastErr = fmt.Errorf("%s: %s", what, res.Status())
		case res.StatusCode() != want:
			return res, fmt.Errorf("%s: %s (want %d)", what, res.Status(), want)
		default:
			return res, nil
		}
	}
	return res, lastErr
}

// newClient returns the generated client for base, sending token as a
// bearer token when it is set.
func newClient(base, token string, concurrency int) (*apiclient.ClientWithResponses, error) {
	return apiclient.NewClientWithResponses(strings.TrimRight(base, "/"),
		apiclient.WithHTTPClient(&http.Client{
			Timeout:   10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency},
		}),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Accept", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}))
}

func ptr[T any](v T) *T { return &v }

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

	c, err := newClient(*base, os.Getenv("FIREFLOW_BENCH_TOKEN"), *concurrency)
	if err != nil {
		return err
	}
	start := time.Now()
	prefix := fmt.Sprintf("bench-%d", time.Now().Unix())

	// Firewalls, in parallel.
	ids := make([]string, *nFirewalls)
	err = parallel(ctx, *nFirewalls, *concurrency, func(ctx context.Context, i int) error {
		in := apiclient.FirewallInput{
			Name:        fmt.Sprintf("%s-fw-%05d", prefix, i),
			Description: ptr("benchmark firewall"),
			Labels:      &map[string]string{"bench": "true", "shard": fmt.Sprint(i % 10)},
		}
		res, err := call(ctx, fmt.Sprintf("create firewall %d", i), http.StatusCreated,
			func(ctx context.Context) (*apiclient.CreateFirewallResponse, error) {
				return c.CreateFirewallWithResponse(ctx, nil, in)
			})
		if err != nil {
			return err
		}
		if res.JSON201 == nil || res.JSON201.Id == "" {
			return fmt.Errorf("create firewall %d: no id in response", i)
		}
		ids[i] = res.JSON201.Id
		return nil
	})
	if err != nil {
		return err
	}
	tFirewalls := time.Since(start)

	// One policy with the rules, in order (positions are appended).
	fid := ids[0]
	policy, err := createPolicy(ctx, c, fid, "bench-policy", 100)
	if err != nil {
		return err
	}
	policiesPath := "/api/v1/firewalls/" + fid + "/filtering-policies"
	rulesPath := policiesPath + "/" + policy + "/rules"
	for i := 0; i < *nRules; i++ {
		in := apiclient.RuleInput{
			Action:           []apiclient.RuleInputAction{apiclient.RuleInputActionAllow, apiclient.RuleInputActionDeny}[i%2],
			Protocol:         ptr([]apiclient.RuleInputProtocol{apiclient.RuleInputProtocolTcp, apiclient.RuleInputProtocolUdp}[i%2]),
			Destinations:     nullable.NewNullableWithValue([]string{fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)}),
			DestinationPorts: nullable.NewNullableWithValue([]string{fmt.Sprint(1000 + i)}),
		}
		if _, err := call(ctx, fmt.Sprintf("create rule %d", i+1), http.StatusCreated,
			func(ctx context.Context) (*apiclient.CreateRuleResponse, error) {
				return c.CreateRuleWithResponse(ctx, fid, policy, nil, in)
			}); err != nil {
			return err
		}
	}
	listPath := fmt.Sprintf("%s?page_size=%d", rulesPath, max(*nRules, 1))
	list, err := call(ctx, "list rules", http.StatusOK, func(ctx context.Context) (*apiclient.ListRulesResponse, error) {
		return c.ListRulesWithResponse(ctx, fid, policy, &apiclient.ListRulesParams{PageSize: ptr(int64(max(*nRules, 1)))})
	})
	if err != nil {
		return err
	}
	if items, _ := list.JSON200.Items.Get(); len(items) != *nRules {
		return fmt.Errorf("list rules: got %d items, want %d", len(items), *nRules)
	}

	// Read every firewall back: checks the GET path and captures the exact
	// bodies for the bare server.
	bodies := make([][]byte, len(ids))
	err = parallel(ctx, len(ids), *concurrency, func(ctx context.Context, i int) error {
		res, err := call(ctx, "get firewall "+ids[i], http.StatusOK, func(ctx context.Context) (*apiclient.GetFirewallResponse, error) {
			return c.GetFirewallWithResponse(ctx, ids[i])
		})
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, res.Body); err != nil {
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
		p, err := createPolicy(ctx, c, ids[i+1], "bench-create", 200)
		if err != nil {
			return fmt.Errorf("policy %d: %w", i, err)
		}
		createPaths[i] = "/api/v1/firewalls/" + ids[i+1] + "/filtering-policies/" + p + "/rules"
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

// createPolicy creates a policy in firewall fid and returns its id.
func createPolicy(ctx context.Context, c *apiclient.ClientWithResponses, fid, name string, priority int64) (string, error) {
	res, err := call(ctx, "create policy "+name, http.StatusCreated, func(ctx context.Context) (*apiclient.CreateFilteringPolicyResponse, error) {
		return c.CreateFilteringPolicyWithResponse(ctx, fid, nil, apiclient.PolicyInput{Name: name, Priority: priority})
	})
	if err != nil {
		return "", err
	}
	if res.JSON201 == nil || res.JSON201.Id == "" {
		return "", fmt.Errorf("create policy %s: no id in response", name)
	}
	return res.JSON201.Id, nil
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
