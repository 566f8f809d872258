package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func historyCases() []testCase {
	return []testCase{
		{"History/RandomChangesReadBackAtEveryRevision", historyRandom},
		{"History/RespaceAndRenumberKeepPositions", historyRespace},
		{"History/CascadeDeletesCloseVersions", historyCascade},
		{"History/ListNewestFirstWithPaging", historyList},
		{"History/RevisionOutOfRange", historyOutOfRange},
		{"History/PruneByCount", historyPruneCount},
		{"History/PruneByAge", historyPruneAge},
		{"History/DeletedFirewallLeavesNoHistory", historyFirewallDeleted},
	}
}

// historyRun drives random changes through one firewall and records its
// live tree after each revision, so that every revision can be checked
// against what was really there: the reference is the live tables, not
// the history code.
type historyRun struct {
	f      *fixture
	rng    *rand.Rand
	fw     firewall.Firewall
	trees  map[int64]store.Tree
	policy []string // ids of the live policies
}

func newHistoryRun(f *fixture, seed uint64) *historyRun {
	h := &historyRun{f: f, rng: rand.New(rand.NewPCG(seed, 19)), trees: map[int64]store.Tree{}}
	h.fw = f.firewall(fmt.Sprintf("history-%d", seed))
	h.record()
	return h
}

// record keeps the live tree as the firewall's current revision.
func (h *historyRun) record() {
	h.f.t.Helper()
	t, err := h.f.s.LoadTree(h.f.ctx, h.fw.ID)
	if err != nil {
		h.f.t.Fatal(err)
	}
	h.trees[t.Firewall.Revision] = t
}

// change runs fn and a revision bump in one transaction, as the service
// does, and records the tree it leaves.
func (h *historyRun) change(fn func(tx store.Tx) error) {
	h.f.t.Helper()
	h.f.update(func(tx store.Tx) error {
		if _, err := tx.LockFirewall(h.f.ctx, h.fw.ID); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.BumpRevision(h.f.ctx, h.fw.ID, h.f.etag(), h.f.now())
		return err
	})
	h.record()
}

func (h *historyRun) rules(tx store.Tx, policyID string) []firewall.Rule {
	h.f.t.Helper()
	p, err := tx.ListRules(h.f.ctx, h.fw.ID, policyID, firewall.Query{PageSize: firewall.MaxPageSize})
	if err != nil {
		h.f.t.Fatal(err)
	}
	return p.Items
}

// step makes one random change, or several in one revision.
func (h *historyRun) step() {
	ops := 1
	if h.rng.IntN(5) == 0 {
		ops = 2 + h.rng.IntN(4) // a multi-change revision, like a tree PUT
	}
	h.change(func(tx store.Tx) error {
		for range ops {
			if err := h.op(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

func (h *historyRun) op(tx store.Tx) error {
	f, rng := h.f, h.rng
	if len(h.policy) == 0 || rng.IntN(12) == 0 {
		p := f.newPolicy(h.fw.ID, fmt.Sprintf("p%d", f.ticks.Add(1)), int(f.ticks.Add(1)))
		h.policy = append(h.policy, p.ID)
		return tx.CreatePolicy(f.ctx, &p)
	}
	pi := rng.IntN(len(h.policy))
	pid := h.policy[pi]
	rules := h.rules(tx, pid)
	switch k := rng.IntN(20); {
	case k == 0:
		h.policy = slices.Delete(h.policy, pi, pi+1)
		return tx.DeletePolicy(f.ctx, h.fw.ID, pid, true)
	case k == 1:
		p, err := tx.GetPolicy(f.ctx, h.fw.ID, pid)
		if err != nil {
			return err
		}
		p.Description, p.Enabled, p.ETag, p.UpdatedAt = fmt.Sprintf("d%d", rng.IntN(100)), rng.IntN(2) == 0, f.etag(), f.now()
		return tx.UpdatePolicy(f.ctx, &p)
	case k == 2:
		fw, err := tx.GetFirewall(f.ctx, h.fw.ID)
		if err != nil {
			return err
		}
		fw.Description, fw.Labels, fw.ETag, fw.UpdatedAt = fmt.Sprintf("d%d", rng.IntN(100)), map[string]string{"k": fmt.Sprint(rng.IntN(3))}, f.etag(), f.now()
		return tx.UpdateFirewall(f.ctx, &fw)
	case k < 11 || len(rules) == 0:
		r := f.newRule(h.fw.ID, pid, rng.IntN(len(rules)+2), "")
		if rng.IntN(2) == 0 {
			r.Name = fmt.Sprintf("r%d", f.ticks.Add(1))
		}
		r.Action = []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject}[rng.IntN(3)]
		return tx.CreateRule(f.ctx, &r)
	}
	r := rules[rng.IntN(len(rules))]
	switch rng.IntN(3) {
	case 0:
		r.Description, r.Enabled, r.ETag, r.UpdatedAt = fmt.Sprintf("d%d", rng.IntN(100)), rng.IntN(2) == 0, f.etag(), f.now()
		return tx.UpdateRule(f.ctx, &r)
	case 1:
		r.ETag, r.UpdatedAt = f.etag(), f.now()
		return tx.MoveRule(f.ctx, &r, 1+rng.IntN(len(rules)))
	}
	return tx.DeleteRule(f.ctx, h.fw.ID, pid, r.ID)
}

// check reads every recorded revision back and compares it with the tree
// recorded when it was current.
func (h *historyRun) check(t *testing.T) {
	t.Helper()
	for _, rev := range slices.Sorted(mapKeys(h.trees)) {
		got, err := h.f.s.TreeAt(h.f.ctx, h.fw.ID, rev)
		if err != nil {
			t.Fatalf("TreeAt(%d): %v", rev, err)
		}
		wantEqual(t, fmt.Sprintf("tree at revision %d", rev), sortTree(got), sortTree(h.trees[rev]))
	}
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// sortTree orders the rule groups by policy id: which group comes first
// is not part of the contract.
func sortTree(t store.Tree) store.Tree {
	t.Rules = slices.Clone(t.Rules)
	slices.SortStableFunc(t.Rules, func(a, b firewall.Rule) int {
		return cmp.Or(cmp.Compare(a.PolicyID, b.PolicyID), cmp.Compare(a.Position, b.Position))
	})
	if t.Rules == nil {
		t.Rules = []firewall.Rule{}
	}
	if t.Policies == nil {
		t.Policies = []firewall.Policy{}
	}
	return t
}

func historyRandom(t *testing.T, f *fixture) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h := newHistoryRun(f.with(t), seed)
			for range 60 {
				h.step()
			}
			h.check(t)
		})
	}
}

// historyRespace inserts again and again at one place, so that the order
// keys run out there: in policies big enough for a respace of a window,
// and in one so small that the whole policy is renumbered.
func historyRespace(t *testing.T, f *fixture) {
	h := newHistoryRun(f, 7)
	for _, size := range []int{24, 6} {
		p := f.newPolicy(h.fw.ID, fmt.Sprintf("p%d", size), size)
		h.change(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &p) })
		for i := range size {
			r := f.newRule(h.fw.ID, p.ID, 0, fmt.Sprintf("base%d", i))
			h.change(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
		}
		for i := range 45 {
			r := f.newRule(h.fw.ID, p.ID, size/2+1, fmt.Sprintf("hot%d", i))
			h.change(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
			if i%9 == 0 { // and a move across the crowded place
				h.change(func(tx store.Tx) error {
					rules := h.rules(tx, p.ID)
					m := rules[len(rules)-1]
					m.ETag, m.UpdatedAt = f.etag(), f.now()
					return tx.MoveRule(f.ctx, &m, size/2+1)
				})
			}
		}
	}
	// Inserting at one place of a small policy while deleting the rule
	// after it halves the same gap again and again without the policy
	// growing: the window is then the whole policy, which is renumbered.
	p := f.newPolicy(h.fw.ID, "small", 100)
	h.change(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &p) })
	for i := range 3 {
		r := f.newRule(h.fw.ID, p.ID, 0, fmt.Sprintf("small%d", i))
		h.change(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
	}
	for i := range 40 {
		r := f.newRule(h.fw.ID, p.ID, 2, fmt.Sprintf("churn%d", i))
		h.change(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
		h.change(func(tx store.Tx) error {
			rules := h.rules(tx, p.ID)
			return tx.DeleteRule(f.ctx, h.fw.ID, p.ID, rules[2].ID)
		})
	}
	h.check(t)
}

func historyCascade(t *testing.T, f *fixture) {
	h := newHistoryRun(f, 11)
	p := f.newPolicy(h.fw.ID, "doomed", 1)
	q := f.newPolicy(h.fw.ID, "kept", 2)
	h.change(func(tx store.Tx) error {
		if err := tx.CreatePolicy(f.ctx, &p); err != nil {
			return err
		}
		return tx.CreatePolicy(f.ctx, &q)
	})
	h.change(func(tx store.Tx) error {
		for i := range 5 {
			for _, pol := range []string{p.ID, q.ID} {
				r := f.newRule(h.fw.ID, pol, 0, fmt.Sprintf("r%d", i))
				if err := tx.CreateRule(f.ctx, &r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	h.change(func(tx store.Tx) error { return tx.DeletePolicy(f.ctx, h.fw.ID, p.ID, true) })
	h.check(t)
	cur, err := f.s.TreeAt(f.ctx, h.fw.ID, h.fw.Revision+3)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.Policies) != 1 || len(cur.Rules) != 5 {
		t.Fatalf("after the cascade: %d policies, %d rules; want 1 and 5", len(cur.Policies), len(cur.Rules))
	}
}

func historyList(t *testing.T, f *fixture) {
	h := newHistoryRun(f, 13)
	for range 6 {
		h.step()
	}
	var got []int64
	q := firewall.Query{PageSize: 4}
	for {
		page, err := f.s.ListRevisions(f.ctx, h.fw.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Items {
			got = append(got, r.Revision)
			if r.FirewallID != h.fw.ID || r.CreatedAt.IsZero() {
				t.Fatalf("revision record %+v", r)
			}
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	wantEqual(t, "revisions", got, []int64{7, 6, 5, 4, 3, 2, 1})
	if _, err := f.s.ListRevisions(f.ctx, f.id(), firewall.Query{}); firewall.CodeOf(err) != firewall.CodeNotFound {
		t.Fatalf("revisions of a missing firewall: %v, want not found", err)
	}
	for _, q := range []firewall.Query{{PageToken: "junk"}, {Filter: `colour = "red"`}, {OrderBy: "summary"}} {
		if _, err := f.s.ListRevisions(f.ctx, h.fw.ID, q); firewall.CodeOf(err) != firewall.CodeInvalid {
			t.Fatalf("ListRevisions(%+v): %v, want invalid", q, err)
		}
	}
}

func historyOutOfRange(t *testing.T, f *fixture) {
	h := newHistoryRun(f, 17)
	h.step()
	for _, rev := range []int64{0, -1, 3, 1 << 40} {
		if _, err := f.s.TreeAt(f.ctx, h.fw.ID, rev); firewall.CodeOf(err) != firewall.CodeNotFound {
			t.Fatalf("TreeAt(%d): %v, want not found", rev, err)
		}
	}
	if _, err := f.s.TreeAt(f.ctx, f.id(), 1); firewall.CodeOf(err) != firewall.CodeNotFound {
		t.Fatalf("TreeAt of a missing firewall: %v, want not found", err)
	}
}

// retainer is a store whose revision retention can be set.
type retainer interface {
	SetRetention(firewall.Retention)
}

func historyPruneCount(t *testing.T, f *fixture) {
	r, ok := f.s.(retainer)
	if !ok {
		t.Skip("the store has no SetRetention")
	}
	r.SetRetention(firewall.Retention{Keep: 5})
	h := newHistoryRun(f, 23)
	for range 30 {
		h.step()
	}
	cur := h.fw.Revision + 30
	for rev := int64(1); rev <= cur; rev++ {
		_, err := f.s.TreeAt(f.ctx, h.fw.ID, rev)
		kept := rev > cur-5
		if kept != (err == nil) || (!kept && firewall.CodeOf(err) != firewall.CodeGone) {
			t.Fatalf("TreeAt(%d) with the current %d and 5 kept: %v", rev, cur, err)
		}
	}
	for rev := cur - 4; rev <= cur; rev++ {
		wantEqual(t, fmt.Sprintf("tree at kept revision %d", rev), sortTree(mustTreeAt(t, f, h.fw.ID, rev)), sortTree(h.trees[rev]))
	}
	page, err := f.s.ListRevisions(f.ctx, h.fw.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 5 || page.Items[4].Revision != cur-4 {
		t.Fatalf("%d revisions listed, the oldest %d; want 5 down to %d", len(page.Items), page.Items[len(page.Items)-1].Revision, cur-4)
	}
}

func mustTreeAt(t *testing.T, f *fixture, fw string, rev int64) store.Tree {
	t.Helper()
	got, err := f.s.TreeAt(f.ctx, fw, rev)
	if err != nil {
		t.Fatalf("TreeAt(%d): %v", rev, err)
	}
	return got
}

func historyPruneAge(t *testing.T, f *fixture) {
	r, ok := f.s.(retainer)
	if !ok {
		t.Skip("the store has no SetRetention")
	}
	// The fixture's clock moves about a millisecond per call, and a change
	// takes a few calls: an hour keeps everything, a few milliseconds the
	// last revisions only.
	r.SetRetention(firewall.Retention{MaxAge: time.Hour})
	h := newHistoryRun(f, 29)
	for range 10 {
		h.step()
	}
	h.check(t)
	r.SetRetention(firewall.Retention{MaxAge: time.Microsecond})
	h.step()
	cur := h.fw.Revision + 11
	if _, err := f.s.TreeAt(f.ctx, h.fw.ID, cur-1); firewall.CodeOf(err) != firewall.CodeGone {
		t.Fatalf("TreeAt(%d) after pruning by age: %v, want gone", cur-1, err)
	}
	wantEqual(t, "current tree", sortTree(mustTreeAt(t, f, h.fw.ID, cur)), sortTree(h.trees[cur]))
}

func historyFirewallDeleted(t *testing.T, f *fixture) {
	h := newHistoryRun(f, 31)
	for range 5 {
		h.step()
	}
	f.update(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, h.fw.ID, true) })
	if _, err := f.s.TreeAt(f.ctx, h.fw.ID, 2); firewall.CodeOf(err) != firewall.CodeNotFound {
		t.Fatalf("TreeAt of a deleted firewall: %v, want not found", err)
	}
	// A new firewall starts its own history, untouched by the old one's.
	h2 := newHistoryRun(f, 37)
	h2.step()
	h2.check(t)
}
