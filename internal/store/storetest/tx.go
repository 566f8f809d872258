package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func txCases() []testCase {
	return []testCase{
		{"Tx/RollbackOnError", txRollback},
		{"Tx/ReadsOwnWritesOthersDoNot", txIsolation},
		{"Tx/ConcurrentRuleInsertsAndMoves", txConcurrentRules},
		{"Tx/ConcurrentBumpRevision", txConcurrentBumps},
	}
}

func txRollback(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("edge", 3)
	boom := errors.New("boom")
	var created firewall.Firewall
	err := f.s.Update(f.ctx, func(ctx context.Context, tx store.Tx) error {
		created = f.newFirewall("new")
		if err := tx.CreateFirewall(ctx, &created); err != nil {
			return err
		}
		r := f.newRule(fw.ID, p.ID, 1, "first")
		if err := tx.CreateRule(ctx, &r); err != nil {
			return err
		}
		last := rules[2]
		if err := tx.MoveRule(ctx, &last, 1); err != nil {
			return err
		}
		if err := tx.DeleteRule(ctx, fw.ID, p.ID, rules[0].ID); err != nil {
			return err
		}
		renamed := fw
		renamed.Name = "renamed"
		if err := tx.UpdateFirewall(ctx, &renamed); err != nil {
			return err
		}
		if _, err := tx.BumpRevision(ctx, fw.ID, "bumped", f.now()); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the error of fn", err)
	}
	_, err = f.s.GetFirewall(f.ctx, created.ID)
	wantNotFound(t, err, "firewall", created.ID)
	got, err := f.s.GetFirewall(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "firewall after rollback", got, fw)
	wantEqual(t, "rules after rollback", f.ruleIDs(fw.ID, p.ID), idsOf(rules))
}

func txIsolation(t *testing.T, f *fixture) {
	fw := f.newFirewall("edge")
	f.update(func(tx store.Tx) error {
		if err := tx.CreateFirewall(f.ctx, &fw); err != nil {
			return err
		}
		p := f.newPolicy(fw.ID, "web", 100)
		if err := tx.CreatePolicy(f.ctx, &p); err != nil {
			return err
		}
		if _, err := tx.GetFirewall(f.ctx, fw.ID); err != nil {
			t.Errorf("the transaction does not see its own firewall: %v", err)
		}
		page, err := tx.ListPolicies(f.ctx, fw.ID, firewall.Query{})
		if err != nil || len(page.Items) != 1 {
			t.Errorf("the transaction lists %d policies (%v), want its own 1", len(page.Items), err)
		}
		_, err = f.s.GetFirewall(f.ctx, fw.ID)
		if firewall.CodeOf(err) != firewall.CodeNotFound {
			t.Errorf("a read outside the transaction got %v before commit, want not found", err)
		}
		return nil
	})
	if _, err := f.s.GetFirewall(f.ctx, fw.ID); err != nil {
		t.Fatalf("after commit: %v", err)
	}
}

// txConcurrentRules has 20 goroutines insert and move rules of one policy at
// random positions at once. Whatever the interleaving, positions must end up
// exactly 1..n with every inserted rule present once.
func txConcurrentRules(t *testing.T, f *fixture) {
	fw, p, initial := f.tree("edge", 5)
	const workers, opsEach = 20, 5
	var mu sync.Mutex
	want := idsOf(initial)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(7, uint64(w)))
			for range opsEach {
				insert := rng.IntN(2) == 0
				r := f.newRule(fw.ID, p.ID, 0, "")
				err := f.s.Update(f.ctx, func(ctx context.Context, tx store.Tx) error {
					if _, err := tx.LockFirewall(ctx, fw.ID); err != nil {
						return err
					}
					n, err := tx.CountRules(ctx, p.ID)
					if err != nil {
						return err
					}
					if insert {
						r.Position = rng.IntN(n+1) + 1
						return tx.CreateRule(ctx, &r)
					}
					page, err := tx.ListRules(ctx, fw.ID, p.ID, firewall.Query{PageSize: firewall.MaxPageSize})
					if err != nil {
						return err
					}
					moved := page.Items[rng.IntN(len(page.Items))]
					moved.ETag = f.etag()
					return tx.MoveRule(ctx, &moved, rng.IntN(n)+1)
				})
				if err != nil {
					errs <- err
					return
				}
				if insert {
					mu.Lock()
					want = append(want, r.ID)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := f.ruleIDs(fw.ID, p.ID)
	slices.Sort(got)
	slices.Sort(want)
	wantEqual(t, "rule ids", got, want)
}

func txConcurrentBumps(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	const workers = 20
	var wg sync.WaitGroup
	revs := make(chan int64, workers)
	for range workers {
		wg.Go(func() {
			etag, at := f.etag(), f.now()
			var rev int64
			err := f.s.Update(f.ctx, func(ctx context.Context, tx store.Tx) error {
				if _, err := tx.LockFirewall(ctx, fw.ID); err != nil {
					return err
				}
				var err error
				rev, err = tx.BumpRevision(ctx, fw.ID, etag, at)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			revs <- rev
		})
	}
	wg.Wait()
	close(revs)
	var got []int64
	for rev := range revs {
		got = append(got, rev)
	}
	slices.Sort(got)
	want := make([]int64, workers)
	for i := range want {
		want[i] = fw.Revision + int64(i) + 1
	}
	wantEqual(t, "revisions handed out", got, want)
}
