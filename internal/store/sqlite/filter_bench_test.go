package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// benchRules is the size of the policy the filter benchmarks list.
const benchRules = 100_000

// benchPrefix draws a rule's source or destination list: mostly IPv4
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

// benchStore builds a store with one firewall whose one policy holds
// benchRules rules, written straight through the writer in one
// transaction (CreateRule would renumber and count on every insert).
func benchStore(b *testing.B) (*Store, string, string) {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fw := firewall.NewFirewall()
	fw.Meta, fw.Name = firewall.Meta{ID: "fw", ETag: "e", CreatedAt: at, UpdatedAt: at}, "big"
	p := firewall.NewPolicy()
	p.Meta, p.FirewallID, p.Name, p.Priority = firewall.Meta{ID: "pol", ETag: "e", CreatedAt: at, UpdatedAt: at}, "fw", "main", 1
	err = s.Update(ctx, func(ctx context.Context, stx store.Tx) error {
		t := stx.(*tx)
		if err := t.CreateFirewall(ctx, &fw); err != nil {
			return err
		}
		if err := t.CreatePolicy(ctx, &p); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(1, 2))
		actions := []firewall.Action{firewall.Allow, firewall.Allow, firewall.Deny, firewall.Reject}
		portChoices := []string{"443", "80", "22", "53", "8000-9000", "1024-65535"}
		for i := range benchRules {
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
			_, err := t.q.ExecContext(ctx, `INSERT INTO rules
				(id, firewall_id, policy_id, name, name_key, description, position, action, protocol,
				 sources, destinations, source_ports, destination_ports, enabled, expires_at, etag, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, '[]', ?, 1, NULL, 'e', ?, ?)`,
				r.ID, r.FirewallID, r.PolicyID, r.Name, nullKey(r.Name), r.Position, r.Action, r.Protocol,
				encodeList(r.Sources), encodeList(r.Destinations), encodeList(r.DestinationPorts), micros(r.CreatedAt), micros(r.UpdatedAt))
			if err != nil {
				return err
			}
			if err := t.indexRule(ctx, &r, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.write.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return s, "fw", "pol"
}

// BenchmarkFilteredPage lists a page of 50 of 100,000 rules with network
// filters and orders, at page 1 and deep into the listing, and reports the
// 50th and 99th percentile latency of one page.
func BenchmarkFilteredPage(b *testing.B) {
	s, fwID, polID := benchStore(b)
	ctx := context.Background()
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
			q := store.Query{PageSize: 50, Filter: c.filter, OrderBy: c.orderBy}
			for range c.skip {
				page, err := s.ListRules(ctx, fwID, polID, q)
				if err != nil || page.NextPageToken == "" {
					b.Fatalf("skipping pages: %v (token %q)", err, page.NextPageToken)
				}
				q.PageToken = page.NextPageToken
			}
			var times []time.Duration
			b.ResetTimer()
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

// TestBenchQueriesUseIndexes checks the plan of the benchmark's queries:
// rules are read through the policy's index, and the child tables by
// their primary keys, never scanned.
func TestBenchQueriesUseIndexes(t *testing.T) {
	q, err := filter.Rules.Compile(`source_contains("10.1.2.3") AND destination_port_contains(443)`, "name desc")
	if err != nil {
		t.Fatal(err)
	}
	b := filter.NewBuilder(filter.SQLite)
	sql := "SELECT id FROM rules WHERE policy_id = " + b.Arg("p") + " AND " + q.Where(b) + " ORDER BY " + q.OrderBy(b) + " LIMIT 51"
	s := open(t)
	rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+sql, b.Args()...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	for _, step := range plan {
		if slices.Contains([]string{"SCAN rules", "SCAN a", "SCAN p"}, step) || strings.Contains(step, "TEMP B-TREE") {
			t.Errorf("the plan scans a whole table or sorts: %q in %q", step, plan)
		}
	}
	if len(plan) == 0 {
		t.Fatal("no plan")
	}
}
