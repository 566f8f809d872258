package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// ruleCrowdedPlaces inserts and moves rules again and again into the same
// place, more times than any sparse ordering can halve the room between
// two neighbours, so that a store that orders rules that way must renumber
// the policy, and checks order, positions, etags, filters and the tree
// against a plain list.
func ruleCrowdedPlaces(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 3)
	model := idsOf(rules)
	etags := map[string]string{}
	for _, r := range rules {
		etags[r.ID] = r.ETag
	}
	for step := range 90 {
		switch step % 3 {
		case 2:
			// Move the last rule to position 2.
			r, err := f.s.GetRule(f.ctx, fw.ID, p.ID, model[len(model)-1])
			if err != nil {
				t.Fatal(err)
			}
			r.ETag = f.etag()
			f.update(func(tx store.Tx) error { return tx.MoveRule(f.ctx, &r, 2) })
			model = slices.Insert(model[:len(model)-1], 1, r.ID)
			etags[r.ID] = r.ETag
		default:
			pos := 2
			if step < 2 {
				pos = 1
			}
			r := f.rule(fw.ID, p.ID, pos, "")
			if r.Position != pos {
				t.Fatalf("step %d: created at position %d, want %d", step, r.Position, pos)
			}
			model = slices.Insert(model, pos-1, r.ID)
			etags[r.ID] = r.ETag
		}
	}
	// Then the middle, where neither end of the policy is near.
	for range 120 {
		at := len(model) / 2
		r := f.rule(fw.ID, p.ID, at, "")
		model = slices.Insert(model, at-1, r.ID)
		etags[r.ID] = r.ETag
	}
	wantEqual(t, "rule order", f.ruleIDs(fw.ID, p.ID), model)
	for i, id := range model {
		r, err := f.s.GetRule(f.ctx, fw.ID, p.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Position != i+1 || r.ETag != etags[id] {
			t.Fatalf("rule %s: position %d, etag %s; want %d, %s", id, r.Position, r.ETag, i+1, etags[id])
		}
	}
	tree, err := f.s.LoadTree(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range tree.Rules {
		if r.ID != model[i] || r.Position != i+1 {
			t.Fatalf("tree rule %d: %s at position %d, want %s at %d", i, r.ID, r.Position, model[i], i+1)
		}
	}
	n := len(model)
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"position <= 3", model[:3]},
		{fmt.Sprintf("position > %d", n-2), model[n-2:]},
		{fmt.Sprintf("position = %d", n/2), model[n/2-1 : n/2]},
		{fmt.Sprintf("position >= %d AND position < %d", 10, 13), model[9:12]},
		{fmt.Sprintf("NOT position <= %d", n+5), []string{}},
	} {
		page, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{Filter: tc.filter, PageSize: firewall.MaxPageSize})
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		wantEqual(t, tc.filter, idsOf(page.Items), tc.want)
		for _, r := range page.Items {
			if want := slices.Index(model, r.ID) + 1; r.Position != want {
				t.Fatalf("%s: rule %s listed at position %d, want %d", tc.filter, r.ID, r.Position, want)
			}
		}
	}
}

// ruleListedPositions lists a policy of some 500 rules, spread over many
// buckets of order keys and made uneven by inserts, moves and deletes at
// random places and at a crowded one, through filters and orders that
// page through it out of position order and with gaps, and checks the
// position of every listed rule against a plain list of the policy's rule
// ids, kept in step with each change.
func ruleListedPositions(t *testing.T, f *fixture) {
	fw, p, model := listedPositionsPolicy(t, f)
	at := map[string]int{}
	for i, id := range model {
		at[id] = i + 1
	}
	seen := map[string]int{}
	for _, orderBy := range []string{"", "position desc", "name", "name desc", "created_at desc", "action, name"} {
		for _, filter := range []string{"", `action = "deny"`, `action != "deny" AND position > 37`, `name >= "rule-1"`} {
			for _, size := range []int{7, 50, firewall.MaxPageSize} {
				q := firewall.Query{Filter: filter, OrderBy: orderBy, PageSize: size}
				listed := 0
				for {
					page, err := f.s.ListRules(f.ctx, fw.ID, p.ID, q)
					if err != nil {
						t.Fatalf("filter %q, order %q, size %d: %v", filter, orderBy, size, err)
					}
					for _, r := range page.Items {
						if r.Position != at[r.ID] {
							t.Fatalf("filter %q, order %q, size %d: rule %s listed at position %d, want %d",
								filter, orderBy, size, r.ID, r.Position, at[r.ID])
						}
						seen[filter]++
					}
					listed += len(page.Items)
					if page.NextPageToken == "" {
						break
					}
					q.PageToken = page.NextPageToken
				}
				if filter == "" && listed != len(model) {
					t.Fatalf("order %q, size %d: listed %d rules, want %d", orderBy, size, listed, len(model))
				}
			}
		}
	}
	for filter, listed := range seen {
		if listed == 0 {
			t.Fatalf("filter %q lists no rule; the test would check nothing", filter)
		}
	}
}

// listedPositionsPolicy creates the policy of ruleListedPositions and
// returns its rule ids in order.
func listedPositionsPolicy(t *testing.T, f *fixture) (firewall.Firewall, firewall.Policy, []string) {
	const n = 800 // 13 buckets of freshly numbered keys; more than 500 rules on a page
	rng := rand.New(rand.NewPCG(13, 5))
	fw := f.firewall("big")
	p := f.policy(fw.ID, "big-policy", 100)
	names := rng.Perm(4 * n) // unique names, in no relation to the order
	made := 0
	newRule := func(pos int) firewall.Rule {
		r := f.newRule(fw.ID, p.ID, pos, fmt.Sprintf("rule-%04d", names[made]))
		if made%3 == 0 {
			r.Action = firewall.Deny
		}
		made++
		return r
	}
	var model []string
	f.update(func(tx store.Tx) error {
		for range n {
			r := newRule(0)
			if err := tx.CreateRule(f.ctx, &r); err != nil {
				return err
			}
			model = append(model, r.ID)
		}
		return nil
	})
	for step := range 240 {
		switch step % 4 {
		case 0, 1: // insert, every other time at one crowded place
			pos := 1 + rng.IntN(len(model)+1)
			if step%4 == 1 {
				pos = len(model) / 3
			}
			r := newRule(pos)
			f.update(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
			model = slices.Insert(model, pos-1, r.ID)
		case 2: // move
			from, to := rng.IntN(len(model)), 1+rng.IntN(len(model))
			r, err := f.s.GetRule(f.ctx, fw.ID, p.ID, model[from])
			if err != nil {
				t.Fatal(err)
			}
			r.ETag = f.etag()
			f.update(func(tx store.Tx) error { return tx.MoveRule(f.ctx, &r, to) })
			model = slices.Insert(slices.Delete(model, from, from+1), to-1, r.ID)
		case 3: // delete a run, the first time long enough to empty a bucket
			run := 1 + rng.IntN(8)
			if step == 3 {
				run = 70
			}
			from := rng.IntN(len(model) - run)
			to := from + run
			f.update(func(tx store.Tx) error {
				for _, id := range model[from:to] {
					if err := tx.DeleteRule(f.ctx, fw.ID, p.ID, id); err != nil {
						return err
					}
				}
				return nil
			})
			model = slices.Delete(model, from, to)
		}
	}
	return fw, p, model
}
