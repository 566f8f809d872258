package storetest

import (
	"fmt"
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
