// Command reorder is the client of scripts/bench-reorder.sh: clients spread
// over several FireFlow servers (one process each, on one database) insert
// rules at random positions of one policy and move its rules to random
// positions, as fast as they can, for a bounded number of requests. It
// prints the latency percentiles of each kind, fails on any request that
// does not succeed, and checks at the end that every server lists the same
// rules at positions 1..n.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fireflow/fireflow/internal/apiclient"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reorder:", err)
		os.Exit(1)
	}
}

// client is one server's generated client.
type client struct {
	api  *apiclient.ClientWithResponses
	base string
}

func newClient(base, token string) (client, error) {
	api, err := apiclient.NewClientWithResponses(base,
		apiclient.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	return client{api: api, base: base}, err
}

// expect fails unless the call answered want.
func expect(what string, want int, res interface {
	StatusCode() int
	Status() string
}, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if res.StatusCode() != want {
		return fmt.Errorf("%s: %s (want %d)", what, res.Status(), want)
	}
	return nil
}

// list reads every rule of the policy and checks that positions are 1..n.
func (c client) list(ctx context.Context, fw, pol string) ([]string, error) {
	var ids []string
	params := &apiclient.ListRulesParams{PageSize: ptr(int64(1000))}
	for {
		res, err := c.api.ListRulesWithResponse(ctx, fw, pol, params)
		if err := expect("list rules on "+c.base, http.StatusOK, res, err); err != nil {
			return nil, err
		}
		items, _ := res.JSON200.Items.Get()
		for _, r := range items {
			ids = append(ids, r.Id)
			if r.Position != int64(len(ids)) {
				return nil, fmt.Errorf("%s lists rule %d at position %d", c.base, len(ids), r.Position)
			}
		}
		if res.JSON200.NextPageToken == "" {
			return ids, nil
		}
		params.PageToken = &res.JSON200.NextPageToken
	}
}

func ptr[T any](v T) *T { return &v }

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
	ctx := context.Background()
	var cs []client
	for _, b := range strings.Split(*bases, ",") {
		c, err := newClient(b, *token)
		if err != nil {
			return err
		}
		cs = append(cs, c)
	}
	c := cs[0].api
	fwRes, err := c.CreateFirewallWithResponse(ctx, nil, apiclient.FirewallInput{Name: fmt.Sprintf("reorder-%d", time.Now().UnixNano())})
	if err := expect("create firewall", http.StatusCreated, fwRes, err); err != nil {
		return err
	}
	fw := fwRes.JSON201.Id
	polRes, err := c.CreateFilteringPolicyWithResponse(ctx, fw, nil, apiclient.PolicyInput{Name: "main", Priority: 1})
	if err := expect("create policy", http.StatusCreated, polRes, err); err != nil {
		return err
	}
	pol := polRes.JSON201.Id
	for range *rules {
		res, err := c.CreateRuleWithResponse(ctx, fw, pol, nil, apiclient.RuleInput{Action: apiclient.RuleInputActionAllow})
		if err := expect("create rule", http.StatusCreated, res, err); err != nil {
			return err
		}
	}
	seed, err := cs[0].list(ctx, fw, pol)
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
					res, callErr := cl.api.CreateRuleWithResponse(ctx, fw, pol, nil, apiclient.RuleInput{
						Action: apiclient.RuleInputActionDeny, Position: ptr(int64(1 + rng.IntN(*rules+1)))})
					err = expect("insert", http.StatusCreated, res, callErr)
				} else {
					kind = "move"
					res, callErr := cl.api.MoveRuleWithResponse(ctx, fw, pol, seed[rng.IntN(*rules)], nil,
						apiclient.MoveInput{Position: ptr(int64(1 + rng.IntN(*rules)))})
					err = expect("move", http.StatusOK, res, callErr)
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
		ids, err := cl.list(ctx, fw, pol)
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
