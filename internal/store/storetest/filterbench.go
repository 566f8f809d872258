package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// FilterBenchRules is the size of the policy FilterBenchmark lists.
const FilterBenchRules = 100_000

// FilterBenchTree returns the firewall, the policy and the FilterBenchRules
// rules (positions 1..n, sources and destinations drawn at random with a
// fixed seed) that FilterBenchmark lists. The stores load them in bulk
// (LoadFilterBench), since creating them one transaction at a time would
// take minutes.
func FilterBenchTree() (firewall.Firewall, firewall.Policy, []firewall.Rule) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fw := firewall.NewFirewall()
	fw.Meta, fw.Name = firewall.Meta{ID: "fw", ETag: "e", CreatedAt: at, UpdatedAt: at}, "big"
	p := firewall.NewPolicy()
	p.Meta, p.FirewallID, p.Name, p.Priority = firewall.Meta{ID: "pol", ETag: "e", CreatedAt: at, UpdatedAt: at}, "fw", "main", 1
	rng := rand.New(rand.NewPCG(1, 2))
	actions := []firewall.Action{firewall.Allow, firewall.Allow, firewall.Deny, firewall.Reject}
	portChoices := []string{"443", "80", "22", "53", "8000-9000", "1024-65535"}
	rules := make([]firewall.Rule, FilterBenchRules)
	for i := range rules {
		r := firewall.NewRule()
		r.Meta = firewall.Meta{ID: fmt.Sprintf("r%06d", i), ETag: "e", CreatedAt: at.Add(time.Duration(i) * time.Second), UpdatedAt: at}
		r.FirewallID, r.PolicyID, r.Position = "fw", "pol", i+1
		r.Name = fmt.Sprintf("rule-%09d-%d", rng.IntN(1_000_000_000), i) // unique, in random order
		r.Action, r.Protocol = actions[rng.IntN(len(actions))], firewall.TCP
		r.Sources, r.Destinations = benchPrefixes(rng), benchPrefixes(rng)
		if rng.IntN(5) > 0 {
			pr, _ := firewall.ParsePortRange(portChoices[rng.IntN(len(portChoices))])
			r.DestinationPorts = []firewall.PortRange{pr}
		}
		rules[i] = r
	}
	return fw, p, rules
}

// benchPrefixes draws a rule's source or destination list: mostly IPv4
// subnets of 10.0.0.0/8 and 192.168.0.0/16, some IPv6, some "any".
func benchPrefixes(rng *rand.Rand) []netip.Prefix {
	n := rng.IntN(3)
	if rng.IntN(10) == 0 {
		return nil // any
	}
	out := make([]netip.Prefix, 0, n+1)
	for range n + 1 {
		var p netip.Prefix
		switch k := rng.IntN(10); {
		case k < 5:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(8)), byte(rng.IntN(256)), 0}), 16+rng.IntN(9)).Masked()
		case k < 8:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(rng.IntN(256)), byte(rng.IntN(256))}), 24+rng.IntN(9)).Masked()
		case k < 9:
			p = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(rng.IntN(256)), byte(rng.IntN(256))}), 48)
		default:
			p = netip.MustParsePrefix("0.0.0.0/0")
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// FilterBenchmark lists pages of 50 of the FilterBenchTree policy, loaded
// into s, with network filters and orders, at page 1 and deep into the
// listing, and reports the 50th and 99th percentile latency of one page.
func FilterBenchmark(b *testing.B, s store.Reader) {
	ctx := context.Background()
	const fwID, polID = "fw", "pol"
	cases := []struct {
		name, filter, orderBy string
		skip                  int // pages to skip first, to measure a deep page
	}{
		{"source_contains/position", `source_contains("10.1.2.3")`, "", 0},
		{"source_contains+port+action/position", `source_contains("10.1.2.3") AND destination_port_contains(443) AND action = "allow"`, "", 0},
		{"source_contains+port/position/page100", `source_contains("10.1.2.3") AND destination_port_contains(443)`, "", 100},
		{"source_contains/name_desc", `source_contains("10.1.2.3")`, "name desc", 0},
		{"destination_contains_v6/created_at_desc", `destination_contains("2001:db8:1:2::1")`, "created_at desc", 0},
		{"source_overlaps/position", `source_overlaps("10.3.0.0/16") AND enabled`, "", 0},
		{"no_filter/position/page500", ``, "", 500},
		{"sparse_exact_source/position", `sources:"10.1.2.0/24"`, "", 0},
		// The worst case: few rules match, so the page walks most of the
		// policy, probing each rule's addresses.
		{"sparse_source_contains/position", `source_contains("192.168.7.7") AND sources:* AND NOT sources:"0.0.0.0/0"`, "", 0},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			q := firewall.Query{PageSize: 50, Filter: c.filter, OrderBy: c.orderBy}
			for range c.skip {
				page, err := s.ListRules(ctx, fwID, polID, q)
				if err != nil || page.NextPageToken == "" {
					b.Fatalf("skipping pages: %v (token %q)", err, page.NextPageToken)
				}
				q.PageToken = page.NextPageToken
			}
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				page, err := s.ListRules(ctx, fwID, polID, q)
				times = append(times, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Items) == 0 {
					b.Fatal("empty page")
				}
			}
			slices.Sort(times)
			pct := func(p float64) float64 { return float64(times[int(float64(len(times)-1)*p)].Microseconds()) / 1000 }
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}

// BulkLoader is a transaction that loads an empty policy's rules in one
// go, at the positions they hold; sqlstore's transactions are. Benchmarks
// use it, since creating rules one by one would take minutes.
type BulkLoader interface {
	LoadRules(ctx context.Context, rules []firewall.Rule) error
}

// LoadFilterBench writes FilterBenchTree into s, a fresh migrated store
// whose transactions are BulkLoaders.
func LoadFilterBench(b *testing.B, s store.Store) {
	b.Helper()
	fw, p, rules := FilterBenchTree()
	loadPolicy(b, s, fw, p, rules)
}

// loadPolicy creates fw and p and bulk-loads their rules.
func loadPolicy(b *testing.B, s store.Store, fw firewall.Firewall, p firewall.Policy, rules []firewall.Rule) {
	b.Helper()
	err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateFirewall(ctx, &fw); err != nil {
			return err
		}
		if err := tx.CreatePolicy(ctx, &p); err != nil {
			return err
		}
		loader, ok := tx.(BulkLoader)
		if !ok {
			return fmt.Errorf("the store's transactions (%T) cannot load rules in bulk", tx)
		}
		return loader.LoadRules(ctx, rules)
	})
	if err != nil {
		b.Fatal(err)
	}
}
