package storetest

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func pagingCases() []testCase {
	return []testCase{
		{"Paging/Firewalls", pagingFirewalls},
		{"Paging/Policies", pagingPolicies},
		{"Paging/Rules", pagingRules},
		{"Paging/DefaultPageSize", pagingDefaultSize},
		{"Paging/ContinuesAfterCursorItemDeleted", pagingAfterDelete},
		{"Paging/BadTokensAreInvalid", pagingBadTokens},
	}
}

// pageSizes covers 1, sizes that divide the total or not, the total itself,
// one more and one less, and 0 for the default.
func pageSizes(total int) []int {
	return []int{1, 2, 3, 7, total - 1, total, total + 1, 0}
}

// walk lists every page of size and returns the ids in order. It fails the
// test if a page other than the last is short, the last page has a token,
// or an id repeats.
func walk[T any](t *testing.T, size int, list func(firewall.Query) (firewall.Page[T], error), id func(T) string) []string {
	t.Helper()
	full := size
	if full == 0 {
		full = firewall.DefaultPageSize
	}
	var ids []string
	seen := map[string]bool{}
	q := firewall.Query{PageSize: size}
	for pages := 1; ; pages++ {
		page, err := list(q)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, item := range page.Items {
			if seen[id(item)] {
				t.Fatalf("page %d repeats %s", pages, id(item))
			}
			seen[id(item)] = true
			ids = append(ids, id(item))
		}
		if page.NextPageToken == "" {
			return ids
		}
		if len(page.Items) != full {
			t.Fatalf("page %d has %d items and a next page token; want %d items", pages, len(page.Items), full)
		}
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		q.PageToken = page.NextPageToken
	}
}

func pagingFirewalls(t *testing.T, f *fixture) {
	// Mixed case, so that case-sensitive order would differ from the
	// contract's case-insensitive one.
	stems := []string{"alpha", "Bravo", "charlie", "DELTA", "Echo", "echo2"}
	var all []firewall.Firewall
	f.update(func(tx store.Tx) error {
		for i := range 23 {
			fw := f.newFirewall(fmt.Sprintf("%s-%02d", stems[i*5%len(stems)], 22-i))
			if err := tx.CreateFirewall(f.ctx, &fw); err != nil {
				return err
			}
			all = append(all, fw)
		}
		return nil
	})
	slices.SortFunc(all, func(a, b firewall.Firewall) int {
		return cmp.Or(cmp.Compare(firewall.NameKey(a.Name), firewall.NameKey(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	want := make([]string, len(all))
	for i, fw := range all {
		want[i] = fw.ID
	}
	for _, size := range pageSizes(len(all)) {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			got := walk(t, size, func(q firewall.Query) (firewall.Page[firewall.Firewall], error) {
				return f.s.ListFirewalls(f.ctx, q)
			}, func(fw firewall.Firewall) string { return fw.ID })
			wantEqual(t, "firewall order", got, want)
		})
	}
}

func pagingPolicies(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	f.policy(f.firewall("other").ID, "elsewhere", 5) // must not show up
	rng := rand.New(rand.NewPCG(3, 4))
	priorities := rng.Perm(firewall.MaxPriority + 1)[:17]
	var all []firewall.Policy
	f.update(func(tx store.Tx) error {
		for i, prio := range priorities {
			p := f.newPolicy(fw.ID, fmt.Sprintf("p%02d", i), prio)
			if err := tx.CreatePolicy(f.ctx, &p); err != nil {
				return err
			}
			all = append(all, p)
		}
		return nil
	})
	slices.SortFunc(all, func(a, b firewall.Policy) int { return cmp.Compare(a.Priority, b.Priority) })
	want := make([]string, len(all))
	for i, p := range all {
		want[i] = p.ID
	}
	for _, size := range pageSizes(len(all)) {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			got := walk(t, size, func(q firewall.Query) (firewall.Page[firewall.Policy], error) {
				return f.s.ListPolicies(f.ctx, fw.ID, q)
			}, func(p firewall.Policy) string { return p.ID })
			wantEqual(t, "policy order", got, want)
		})
	}
}

func pagingRules(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 0)
	f.tree("other", 3) // must not show up
	rng := rand.New(rand.NewPCG(5, 6))
	var want []string
	f.update(func(tx store.Tx) error {
		for range 19 {
			pos := rng.IntN(len(want)+1) + 1
			r := f.newRule(fw.ID, p.ID, pos, "")
			if err := tx.CreateRule(f.ctx, &r); err != nil {
				return err
			}
			want = slices.Insert(want, pos-1, r.ID)
		}
		return nil
	})
	for _, size := range pageSizes(len(want)) {
		t.Run(fmt.Sprintf("size %d", size), func(t *testing.T) {
			got := walk(t, size, func(q firewall.Query) (firewall.Page[firewall.Rule], error) {
				return f.s.ListRules(f.ctx, fw.ID, p.ID, q)
			}, func(r firewall.Rule) string { return r.ID })
			wantEqual(t, "rule order", got, want)
		})
	}
}

func pagingDefaultSize(t *testing.T, f *fixture) {
	f.update(func(tx store.Tx) error {
		for i := range firewall.DefaultPageSize + 1 {
			fw := f.newFirewall(fmt.Sprintf("fw-%03d", i))
			if err := tx.CreateFirewall(f.ctx, &fw); err != nil {
				return err
			}
		}
		return nil
	})
	page, err := f.s.ListFirewalls(f.ctx, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != firewall.DefaultPageSize || page.NextPageToken == "" {
		t.Fatalf("got %d items, token %q; want %d items and a token", len(page.Items), page.NextPageToken, firewall.DefaultPageSize)
	}
	page, err = f.s.ListFirewalls(f.ctx, firewall.Query{PageToken: page.NextPageToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.NextPageToken != "" {
		t.Fatalf("got %d items, token %q on the second page; want 1 item and no token", len(page.Items), page.NextPageToken)
	}
}

// pagingAfterDelete deletes the item a token points at, and the one after
// it, between two pages: keyset paging carries on from the right place.
func pagingAfterDelete(t *testing.T, f *fixture) {
	var ids []string
	for i := range 10 {
		ids = append(ids, f.firewall(fmt.Sprintf("fw-%02d", i)).ID)
	}
	page, err := f.s.ListFirewalls(f.ctx, firewall.Query{PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[2:4] {
		f.update(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, id, false) })
	}
	got := walk(t, 3, func(q firewall.Query) (firewall.Page[firewall.Firewall], error) {
		if q.PageToken == "" {
			q.PageToken = page.NextPageToken
		}
		return f.s.ListFirewalls(f.ctx, q)
	}, func(fw firewall.Firewall) string { return fw.ID })
	wantEqual(t, "rest of the listing", got, ids[4:])
}

func pagingBadTokens(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 2)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tokens := map[string]string{
		"not base64":    "!!not a token!!",
		"not json":      enc("not json"),
		"wrong version": enc(`{"v":99,"c":{"id":"x"}}`),
		"no id":         enc(`{"v":1,"c":{"i":3}}`),
		"too long":      enc(string(make([]byte, 4096))),
	}
	lists := map[string]func(q firewall.Query) error{
		"firewalls": func(q firewall.Query) error { _, err := f.s.ListFirewalls(f.ctx, q); return err },
		"policies":  func(q firewall.Query) error { _, err := f.s.ListPolicies(f.ctx, fw.ID, q); return err },
		"rules":     func(q firewall.Query) error { _, err := f.s.ListRules(f.ctx, fw.ID, p.ID, q); return err },
	}
	for listName, list := range lists {
		for tokenName, token := range tokens {
			t.Run(listName+"/"+tokenName, func(t *testing.T) {
				wantCode(t, list(firewall.Query{PageSize: 1, PageToken: token}), firewall.CodeInvalid)
			})
		}
	}
}
