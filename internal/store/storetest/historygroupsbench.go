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
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/store"
)

// historyGroupEdits is how many group edits follow the load.
const historyGroupEdits = 100

// HistoryGroupsBenchmark measures revisions with groups: a firewall of
// HistoryBenchRules realistic rules using fwgen.Groups's 1,000 address and
// 100 service groups (nested), followed by historyGroupEdits edits of used
// groups, each raising the firewall's revision. It reads the tree as of the
// first, a middle and the current revision (TreeAt, groups included), the
// live tree, and times a group edit and a single rule update.
func HistoryGroupsBenchmark(b *testing.B, s store.Store, analyze func(context.Context) error) {
	ctx := b.Context()
	fw, big, used := loadGroupsBench(b, s)
	r := rand.New(rand.NewPCG(3, 5))
	edit := func() error {
		id := used[r.IntN(len(used))]
		return s.Update(ctx, func(ctx context.Context, tx store.Tx) error {
			g, err := tx.LockAddressGroup(ctx, id)
			if err != nil {
				return err
			}
			g.Addresses = []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", r.IntN(256), r.IntN(256)))}
			g.ETag, g.UpdatedAt = newID(), time.Now().UTC().Truncate(time.Microsecond)
			if err := tx.UpdateAddressGroup(ctx, &g); err != nil {
				return err
			}
			if _, err := tx.LockFirewall(ctx, fw.ID); err != nil {
				return err
			}
			_, err = tx.BumpRevision(ctx, fw.ID, newID(), g.UpdatedAt)
			return err
		})
	}
	for range historyGroupEdits {
		if err := edit(); err != nil {
			b.Fatal(err)
		}
	}
	if err := analyze(ctx); err != nil {
		b.Fatal(err)
	}
	for _, at := range []struct {
		name string
		rev  int64
	}{{"first", fw.Revision}, {"middle", fw.Revision + historyGroupEdits/2}, {"current", fw.Revision + historyGroupEdits}} {
		b.Run(fmt.Sprintf("rules=%d/groups/tree_at_%s", HistoryBenchRules, at.name), func(b *testing.B) {
			timed(b, func() error {
				t, err := s.TreeAt(ctx, fw.ID, at.rev)
				if err == nil && (len(t.Rules) != HistoryBenchRules || len(t.Groups.Address) == 0) {
					err = fmt.Errorf("revision %d has %d rules and %d address groups", at.rev, len(t.Rules), len(t.Groups.Address))
				}
				return err
			})
		})
	}
	b.Run(fmt.Sprintf("rules=%d/groups/load_tree", HistoryBenchRules), func(b *testing.B) {
		timed(b, func() error {
			_, err := s.LoadTree(ctx, fw.ID)
			return err
		})
	})
	b.Run(fmt.Sprintf("rules=%d/groups/edit_group", HistoryBenchRules), func(b *testing.B) { timed(b, edit) })
	rules, err := s.ListRules(ctx, fw.ID, big.ID, firewall.Query{PageSize: 400})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	b.Run(fmt.Sprintf("rules=%d/groups/update_rule", HistoryBenchRules), func(b *testing.B) {
		timed(b, func() error {
			n++
			rule := rules.Items[n*13%len(rules.Items)]
			return s.Update(ctx, func(ctx context.Context, tx store.Tx) error { return flipRule(ctx, tx, big, rule) })
		})
	})
}

// loadGroupsBench writes the benchmark's groups and tree into s and
// returns the firewall, its biggest policy and the ids of the address
// groups its rules refer to directly.
func loadGroupsBench(b *testing.B, s store.Store) (firewall.Firewall, firewall.Policy, []string) {
	b.Helper()
	tree := fwgen.Realistic(1, HistoryBenchRules, false)
	fwgen.Groups(rand.New(rand.NewPCG(1, 2)), &tree, 1000, 100)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	meta := func() firewall.Meta { return firewall.Meta{ID: newID(), ETag: "e", CreatedAt: at, UpdatedAt: at} }
	fw := tree.Firewall
	fw.Meta, fw.Revision = meta(), 1
	policies := make([]firewall.Policy, len(tree.Policies))
	var rules []firewall.Rule
	direct := map[string]bool{}
	most := 0
	for i, pt := range tree.Policies {
		p := pt.Policy
		p.Meta, p.FirewallID = meta(), fw.ID
		policies[i] = p
		if len(pt.Rules) > len(tree.Policies[most].Rules) {
			most = i
		}
		for j, r := range pt.Rules {
			r.Meta, r.FirewallID, r.PolicyID, r.Position = meta(), fw.ID, p.ID, j+1
			r.Sources, r.Destinations = distinct(r.Sources), distinct(r.Destinations)
			r.SourcePorts, r.DestinationPorts = distinct(r.SourcePorts), distinct(r.DestinationPorts)
			for _, ref := range append(slices.Clone(r.SourceGroups), r.DestinationGroups...) {
				direct[ref.ID] = true
			}
			rules = append(rules, r)
		}
	}
	err := s.Update(b.Context(), func(ctx context.Context, tx store.Tx) error {
		// Ids sort so that a group comes after those it nests.
		for _, id := range slices.Sorted(mapKeys(tree.Groups.Address)) {
			g := tree.Groups.Address[id]
			g.Meta = firewall.Meta{ID: id, ETag: "e", CreatedAt: at, UpdatedAt: at}
			g.Addresses = distinct(g.Addresses)
			if err := tx.CreateAddressGroup(ctx, &g); err != nil {
				return err
			}
		}
		for _, id := range slices.Sorted(mapKeys(tree.Groups.Service)) {
			g := tree.Groups.Service[id]
			g.Meta = firewall.Meta{ID: id, ETag: "e", CreatedAt: at, UpdatedAt: at}
			if err := tx.CreateServiceGroup(ctx, &g); err != nil {
				return err
			}
		}
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
	return fw, policies[most], slices.Sorted(mapKeys(direct))
}

// HistoryGroupsBenchmark runs the package's HistoryGroupsBenchmark on a fresh store.
func (e Engine[S]) HistoryGroupsBenchmark(b *testing.B) {
	s := e.Migrated(b)
	HistoryGroupsBenchmark(b, s, func(ctx context.Context) error { return e.Analyze(ctx, s) })
}
