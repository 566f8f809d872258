package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ReorderSizes are the policy sizes ReorderBenchmark measures.
var ReorderSizes = []int{100, 1_000, 10_000, 50_000}

// ReorderBenchmark measures, in policies of each of ReorderSizes rules,
// the transactions the service runs to move the last rule to the top, to
// move the first rule to the bottom, to insert a rule at position 1 and in
// the middle (in that order, so that the moves see the policy at its
// size), and
// reports the median and 99th percentile of one transaction. s must be a
// fresh migrated store whose transactions are BulkLoaders; analyze
// refreshes the planner's statistics after each bulk load, as autovacuum
// would in a database that grew by use.
func ReorderBenchmark(b *testing.B, s store.Store, analyze func(context.Context) error) {
	for _, n := range ReorderSizes {
		fw, p, rules := reorderPolicy(n)
		loadPolicy(b, s, fw, p, rules)
		if err := analyze(b.Context()); err != nil {
			b.Fatal(err)
		}
		ids := idsOf(rules)
		// The policy's order is always a rotation of ids: first is the
		// index of the rule at position 1.
		first := 0
		b.Run(fmt.Sprintf("rules=%d/move_to_top", n), func(b *testing.B) {
			timed(b, func() error {
				last := (first + n - 1) % n
				err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
					return moveRule(ctx, tx, p, ids[last], func(int) int { return 1 })
				})
				first = last
				return err
			})
		})
		b.Run(fmt.Sprintf("rules=%d/move_to_bottom", n), func(b *testing.B) {
			timed(b, func() error {
				err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
					return moveRule(ctx, tx, p, ids[first], func(count int) int { return count })
				})
				first = (first + 1) % n
				return err
			})
		})
		b.Run(fmt.Sprintf("rules=%d/insert_at_1", n), func(b *testing.B) {
			timed(b, func() error {
				return s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
					return insertRule(ctx, tx, p, 1)
				})
			})
		})
		// Not one of the three: the middle, where no end is near.
		b.Run(fmt.Sprintf("rules=%d/insert_in_middle", n), func(b *testing.B) {
			timed(b, func() error {
				return s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
					return insertRule(ctx, tx, p, n/2)
				})
			})
		})
	}
}

// reorderPolicy returns a firewall and a policy holding n plain rules.
func reorderPolicy(n int) (firewall.Firewall, firewall.Policy, []firewall.Rule) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fw := firewall.NewFirewall()
	fw.Meta, fw.Name = firewall.Meta{ID: newID(), ETag: "e", CreatedAt: at, UpdatedAt: at}, fmt.Sprintf("reorder-%d", n)
	p := firewall.NewPolicy()
	p.Meta, p.FirewallID, p.Name = firewall.Meta{ID: newID(), ETag: "e", CreatedAt: at, UpdatedAt: at}, fw.ID, "main"
	rules := make([]firewall.Rule, n)
	for i := range rules {
		r := firewall.NewRule()
		r.Meta = firewall.Meta{ID: newID(), ETag: "e", CreatedAt: at, UpdatedAt: at}
		r.FirewallID, r.PolicyID, r.Position, r.Action = fw.ID, p.ID, i+1, firewall.Allow
		rules[i] = r
	}
	return fw, p, rules
}

// moveRule is the service's transaction for POST .../move with a
// position: lock the firewall, read the rule, count the policy's rules,
// move, bump the revision, append the audit event.
func moveRule(ctx context.Context, tx store.Tx, p firewall.Policy, id string, to func(count int) int) error {
	if _, err := tx.LockFirewall(ctx, p.FirewallID); err != nil {
		return err
	}
	r, err := tx.GetRule(ctx, p.FirewallID, p.ID, id)
	if err != nil {
		return err
	}
	n, err := tx.CountRules(ctx, p.ID)
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	r.ETag, r.UpdatedAt = newID(), now
	if err := tx.MoveRule(ctx, &r, to(n)); err != nil {
		return err
	}
	return bumpAndAudit(ctx, tx, p, firewall.AuditMove, r)
}

// insertRule is the service's transaction for POST .../rules at a position.
func insertRule(ctx context.Context, tx store.Tx, p firewall.Policy, position int) error {
	if _, err := tx.LockFirewall(ctx, p.FirewallID); err != nil {
		return err
	}
	if _, err := tx.GetPolicy(ctx, p.FirewallID, p.ID); err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	r := firewall.NewRule()
	r.ID, r.FirewallID, r.PolicyID, r.Position, r.Action, r.ETag, r.CreatedAt, r.UpdatedAt = newID(), p.FirewallID, p.ID, position, firewall.Allow, "e", now, now
	if err := tx.CreateRule(ctx, &r); err != nil {
		return err
	}
	return bumpAndAudit(ctx, tx, p, firewall.AuditCreate, r)
}

// timed runs op b.N times and reports the median and 99th percentile,
// and the process's CPU time per op: on a loaded machine the wall time
// swings with the load, the CPU time much less (run with GOMAXPROCS=1
// for it to be the op's own, its garbage collection included).
func timed(b *testing.B, op func() error) {
	var times []time.Duration
	cpu0, cpuKnown := processCPU()
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	if cpu1, ok := processCPU(); ok && cpuKnown && len(times) > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(len(times)), "cpu-ms/op")
	}
	slices.Sort(times)
	pct := func(p float64) float64 { return float64(times[int(float64(len(times)-1)*p)].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
