package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func revisionCases() []testCase {
	return []testCase{
		{"Revisions/PutGetList", revisionsPutGetList},
		{"Revisions/Paging", revisionsPaging},
		{"Revisions/Missing", revisionsMissing},
		{"Revisions/PruneByCountAndAge", revisionsPrune},
		{"Revisions/GoWithTheirFirewall", revisionsCascade},
		{"Revisions/TxLoadTreeSeesOwnWrites", revisionsTxLoadTree},
	}
}

func (f *fixture) revision(fw string, n int64, at time.Time) store.Revision {
	f.t.Helper()
	v := store.Revision{FirewallID: fw, Revision: n, CreatedAt: at, Actor: "alice", RequestID: fmt.Sprintf("req-%d", n),
		Summary: fmt.Sprintf("change %d", n), Tree: []byte(fmt.Sprintf(`{"n":%d}`, n))}
	f.update(func(tx store.Tx) error { return tx.PutRevision(f.ctx, v) })
	return v
}

func revisionsPutGetList(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	other := f.firewall("other")
	var want []store.Revision
	for n := int64(1); n <= 3; n++ {
		want = append(want, f.revision(fw.ID, n, f.now()))
	}
	f.revision(other.ID, 1, f.now())
	got, err := f.s.GetTreeRevision(f.ctx, fw.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "revision 2", got, want[1])
	page, err := f.s.ListRevisions(f.ctx, fw.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i].Tree = nil
	}
	wantEqual(t, "list", page.Items, []store.Revision{want[2], want[1], want[0]})
	if page.NextPageToken != "" {
		t.Fatalf("next page token %q on the only page", page.NextPageToken)
	}
	err = f.try(func(tx store.Tx) error { return tx.PutRevision(f.ctx, want[0]) })
	if err == nil {
		t.Fatal("storing revision 1 twice succeeded")
	}
}

func revisionsPaging(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	for n := int64(1); n <= 5; n++ {
		f.revision(fw.ID, n, f.now())
	}
	var got []int64
	q := firewall.Query{PageSize: 2}
	for range 5 {
		page, err := f.s.ListRevisions(f.ctx, fw.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Items {
			got = append(got, v.Revision)
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	wantEqual(t, "revisions over pages", got, []int64{5, 4, 3, 2, 1})
	_, err := f.s.ListRevisions(f.ctx, fw.ID, firewall.Query{PageToken: "garbage"})
	wantCode(t, err, firewall.CodeInvalid)
	_, err = f.s.ListRevisions(f.ctx, fw.ID, firewall.Query{Filter: `actor = "x"`})
	wantCode(t, err, firewall.CodeInvalid)
}

func revisionsMissing(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	f.revision(fw.ID, 1, f.now())
	_, err := f.s.GetTreeRevision(f.ctx, fw.ID, 7)
	if e := domainError(t, err, firewall.CodeNotFound); !strings.HasPrefix(e.Message, "revision") {
		t.Fatalf("missing revision says %q, want it to name the revision", e.Message)
	}
	_, err = f.s.GetTreeRevision(f.ctx, f.id(), 1)
	if e := domainError(t, err, firewall.CodeNotFound); !strings.HasPrefix(e.Message, "firewall") {
		t.Fatalf("missing firewall says %q, want it to name the firewall", e.Message)
	}
	_, err = f.s.ListRevisions(f.ctx, f.id(), firewall.Query{})
	wantCode(t, err, firewall.CodeNotFound)
	err = f.try(func(tx store.Tx) error {
		return tx.PutRevision(f.ctx, store.Revision{FirewallID: f.id(), Revision: 1, CreatedAt: f.now(), Tree: []byte("{}")})
	})
	wantCode(t, err, firewall.CodeNotFound)
}

func revisionsPrune(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	var times []time.Time
	for n := int64(1); n <= 6; n++ {
		times = append(times, f.now())
		f.revision(fw.ID, n, times[n-1])
	}
	prune := func(r store.Retention) int64 {
		var n int64
		f.update(func(tx store.Tx) error {
			var err error
			n, err = tx.PruneRevisions(f.ctx, fw.ID, r)
			return err
		})
		return n
	}
	kept := func() []int64 {
		page, err := f.s.ListRevisions(f.ctx, fw.ID, firewall.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, v := range page.Items {
			out = append(out, v.Revision)
		}
		return out
	}
	if n := prune(store.Retention{}); n != 0 {
		t.Fatalf("no retention pruned %d", n)
	}
	if n := prune(store.Retention{Keep: 4}); n != 2 {
		t.Fatalf("keep 4 of 6 pruned %d", n)
	}
	wantEqual(t, "after keep 4", kept(), []int64{6, 5, 4, 3})
	if n := prune(store.Retention{Before: times[3].Add(time.Microsecond)}); n != 2 {
		t.Fatalf("age pruned %d, want 2 (revisions 3 and 4)", n)
	}
	wantEqual(t, "after age", kept(), []int64{6, 5})
	// Everything is older than this, but the newest revision stays.
	prune(store.Retention{Keep: 1, Before: times[5].Add(time.Hour)})
	wantEqual(t, "the newest is always kept", kept(), []int64{6})
}

func revisionsCascade(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	f.revision(fw.ID, 1, f.now())
	f.update(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, fw.ID, true) })
	again := f.firewall("edge")
	_, err := f.s.GetTreeRevision(f.ctx, fw.ID, 1)
	wantCode(t, err, firewall.CodeNotFound)
	_ = again
}

func revisionsTxLoadTree(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 2)
	f.update(func(tx store.Tx) error {
		r := f.newRule(fw.ID, p.ID, 0, "new")
		if err := tx.CreateRule(f.ctx, &r); err != nil {
			return err
		}
		tr, err := tx.LoadTree(f.ctx, fw.ID)
		if err != nil {
			return err
		}
		if len(tr.Rules) != 3 {
			t.Errorf("tx LoadTree sees %d rules, want 3", len(tr.Rules))
		}
		return nil
	})
}
