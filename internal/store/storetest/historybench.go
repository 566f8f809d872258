package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/store"
)

// HistoryBenchRules is the size of the firewall HistoryBenchmark reads.
const HistoryBenchRules = 10_000

// historyBenchChanges is how many single-rule revisions follow the load.
const historyBenchChanges = 100

// HistoryBenchmark measures, on a firewall of HistoryBenchRules realistic
// rules in five policies followed by historyBenchChanges single-rule
// revisions: reading the tree as of the first, a middle and the current
// revision (TreeAt), reading the live tree (LoadTree) for comparison, and
// the transactions of a single rule update and a rule insert in the middle
// of the biggest policy, which must not grow with the tree. s must be a
// fresh migrated store whose transactions are BulkLoaders; analyze
// refreshes the planner's statistics after the load.
func HistoryBenchmark(b *testing.B, s store.Store, analyze func(context.Context) error) {
	ctx := b.Context()
	fw, big := loadHistoryBench(b, s)
	rules, err := s.ListRules(ctx, fw.ID, big.ID, firewall.Query{PageSize: 400})
	if err != nil {
		b.Fatal(err)
	}
	for i := range historyBenchChanges {
		r := rules.Items[i*7%len(rules.Items)]
		if err := s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return flipRule(ctx, tx, big, r) }); err != nil {
			b.Fatal(err)
		}
	}
	if err := analyze(ctx); err != nil {
		b.Fatal(err)
	}
	current := fw.Revision + historyBenchChanges
	for _, at := range []struct {
		name string
		rev  int64
	}{{"first", fw.Revision}, {"middle", fw.Revision + historyBenchChanges/2}, {"current", current}} {
		b.Run(fmt.Sprintf("rules=%d/tree_at_%s", HistoryBenchRules, at.name), func(b *testing.B) {
			timed(b, func() error {
				t, err := s.TreeAt(ctx, fw.ID, at.rev)
				if err == nil && len(t.Rules) != HistoryBenchRules {
					err = fmt.Errorf("revision %d has %d rules, want %d", at.rev, len(t.Rules), HistoryBenchRules)
				}
				return err
			})
		})
	}
	b.Run(fmt.Sprintf("rules=%d/load_tree", HistoryBenchRules), func(b *testing.B) {
		timed(b, func() error {
			_, err := s.LoadTree(ctx, fw.ID)
			return err
		})
	})
	RuleWriteBenchmark(b, s, big, rules.Items)
}

// RuleWriteBenchmark measures the transactions of a single rule update
// and of a rule insert in the middle of policy p, whose rules are given.
func RuleWriteBenchmark(b *testing.B, s store.Store, p firewall.Policy, rules []firewall.Rule) {
	ctx := b.Context()
	n := 0
	b.Run(fmt.Sprintf("rules=%d/update_rule", HistoryBenchRules), func(b *testing.B) {
		timed(b, func() error {
			n++
			r := rules[n*13%len(rules)]
			return s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return flipRule(ctx, tx, p, r) })
		})
	})
	b.Run(fmt.Sprintf("rules=%d/insert_in_middle", HistoryBenchRules), func(b *testing.B) {
		timed(b, func() error {
			return s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
				return insertRule(ctx, tx, p, len(rules)/2)
			})
		})
	})
}

// flipRule is the service's transaction for PATCH .../rules/{id} that
// changes the action: lock, read, write, bump, audit.
func flipRule(ctx context.Context, tx store.Tx, p firewall.Policy, r firewall.Rule) error {
	if _, err := tx.LockFirewall(ctx, p.FirewallID); err != nil {
		return err
	}
	cur, err := tx.GetRule(ctx, p.FirewallID, p.ID, r.ID)
	if err != nil {
		return err
	}
	if cur.Action == firewall.Allow {
		cur.Action = firewall.Deny
	} else {
		cur.Action = firewall.Allow
	}
	cur.ETag, cur.UpdatedAt = newID(), time.Now().UTC().Truncate(time.Microsecond)
	if err := tx.UpdateRule(ctx, &cur); err != nil {
		return err
	}
	return bumpAndAudit(ctx, tx, p, firewall.AuditUpdate, cur)
}

// loadHistoryBench writes fwgen.Realistic's tree of HistoryBenchRules
// rules into s in one transaction, and returns the firewall and its
// biggest policy.
func loadHistoryBench(b *testing.B, s store.Store) (firewall.Firewall, firewall.Policy) {
	b.Helper()
	tree := fwgen.Realistic(1, HistoryBenchRules, false)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fw := tree.Firewall
	fw.Meta, fw.Revision = firewall.Meta{ID: newID(), ETag: "e", CreatedAt: at, UpdatedAt: at}, 1
	var big firewall.Policy
	var rules []firewall.Rule
	policies := make([]firewall.Policy, len(tree.Policies))
	for i, pt := range tree.Policies {
		p := pt.Policy
		p.Meta, p.FirewallID = firewall.Meta{ID: newID(), ETag: "e", CreatedAt: at, UpdatedAt: at}, fw.ID
		policies[i] = p
		for j, r := range pt.Rules {
			r.Meta, r.FirewallID, r.PolicyID, r.Position = firewall.Meta{ID: newID(), ETag: "e", CreatedAt: at, UpdatedAt: at}, fw.ID, p.ID, j+1
			// The generator may repeat an entry, which the stores refuse.
			r.Sources, r.Destinations = distinct(r.Sources), distinct(r.Destinations)
			r.SourcePorts, r.DestinationPorts = distinct(r.SourcePorts), distinct(r.DestinationPorts)
			rules = append(rules, r)
		}
	}
	most := 0
	for i, pt := range tree.Policies {
		if len(pt.Rules) > len(tree.Policies[most].Rules) {
			most = i
		}
	}
	big = policies[most]
	err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateFirewall(ctx, &fw); err != nil {
			return err
		}
		for i := range policies {
			if err := tx.CreatePolicy(ctx, &policies[i]); err != nil {
				return err
			}
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
	return fw, big
}

// distinct returns s without repeated entries, in order.
func distinct[T comparable](s []T) []T {
	var out []T
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
