package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func historyListCases() []testCase {
	return []testCase{
		{"History/ListFilterOrderPage", historyListQuery},
	}
}

// historyListQuery lists revisions with filters and orders, one or two a
// page, and compares each listing with the same selection made in Go over
// the revisions the test wrote.
func historyListQuery(t *testing.T, f *fixture) {
	fw := f.firewall("revisions")
	other := f.firewall("other")
	actors := []string{"alice", "bob", "carol"}
	want := []firewall.RevisionRecord{{FirewallID: fw.ID, Revision: 1, CreatedAt: fw.CreatedAt}}
	for i := range 8 {
		rec := firewall.RevisionRecord{FirewallID: fw.ID, Actor: actors[i%3], RequestID: fmt.Sprintf("req-%d", i),
			Summary: fmt.Sprintf("change %d", i)}
		if i == 5 {
			rec.Summary = "rolled back to revision 2"
		}
		for _, id := range []string{fw.ID, other.ID} {
			f.update(func(tx store.Tx) error {
				if _, err := tx.LockFirewall(f.ctx, id); err != nil {
					return err
				}
				ev := f.auditEvent(firewall.AuditUpdate, "", `{}`)
				ev.FirewallID, ev.ActorSubject, ev.RequestID = id, rec.Actor, rec.RequestID
				if err := tx.AppendAuditEvent(f.ctx, ev); err != nil {
					return err
				}
				tx.NoteRevision(id, rec.Summary)
				at := f.now()
				rev, err := tx.BumpRevision(f.ctx, id, f.etag(), at)
				if id == fw.ID {
					rec.Revision, rec.CreatedAt = rev, at
				}
				return err
			})
		}
		want = append(want, rec)
	}
	all := listRevisions(t, f, fw.ID, firewall.Query{PageSize: firewall.MaxPageSize})
	if len(all) != len(want) {
		t.Fatalf("%d revisions listed, want %d", len(all), len(want))
	}
	want[0].Summary = all[len(all)-1].Summary // the creation's, as the store words it
	for i, r := range all {
		w := want[len(want)-1-i]
		if r.Revision != w.Revision || r.Actor != w.Actor || r.RequestID != w.RequestID || r.Summary != w.Summary ||
			!r.CreatedAt.Equal(w.CreatedAt) || r.FirewallID != fw.ID {
			t.Fatalf("revision %d listed as %+v, want %+v", i, r, w)
		}
	}
	since := want[4].CreatedAt
	byRev := func(a, b firewall.RevisionRecord) int { return cmp.Compare(a.Revision, b.Revision) }
	for _, c := range []struct {
		filter, order string
		keep          func(firewall.RevisionRecord) bool
		sort          func(a, b firewall.RevisionRecord) int
	}{
		{"", "", nil, nil},
		{`actor = "alice"`, "", func(r firewall.RevisionRecord) bool { return r.Actor == "alice" }, nil},
		{`actor != "alice" AND revision > 3`, "revision", func(r firewall.RevisionRecord) bool { return r.Actor != "alice" && r.Revision > 3 }, byRev},
		{`request_id = "req-3"`, "", func(r firewall.RevisionRecord) bool { return r.RequestID == "req-3" }, nil},
		{`summary = "rolled back*"`, "", func(r firewall.RevisionRecord) bool { return r.Summary == "rolled back to revision 2" }, nil},
		{`created_at > "` + since.Format(time.RFC3339Nano) + `"`, "created_at",
			func(r firewall.RevisionRecord) bool { return r.CreatedAt.After(since) }, byRev},
		{`revision >= 3 AND revision <= 7`, "revision desc", func(r firewall.RevisionRecord) bool { return r.Revision >= 3 && r.Revision <= 7 }, nil},
		{"", "actor, revision desc", nil, func(a, b firewall.RevisionRecord) int {
			return cmp.Or(cmp.Compare(a.Actor, b.Actor), cmp.Compare(b.Revision, a.Revision))
		}},
		{"", "actor desc", nil, func(a, b firewall.RevisionRecord) int {
			return cmp.Or(cmp.Compare(b.Actor, a.Actor), cmp.Compare(b.Revision, a.Revision))
		}},
		{"", "request_id", nil, func(a, b firewall.RevisionRecord) int {
			return cmp.Or(cmp.Compare(a.RequestID, b.RequestID), cmp.Compare(a.Revision, b.Revision))
		}},
	} {
		var exp []int64
		sorted := slices.Clone(want)
		if c.sort != nil {
			slices.SortStableFunc(sorted, c.sort)
		} else {
			slices.Reverse(sorted) // newest first
		}
		for _, r := range sorted {
			if c.keep == nil || c.keep(r) {
				exp = append(exp, r.Revision)
			}
		}
		for _, size := range []int{1, 2, 50} {
			var got []int64
			for _, r := range listRevisions(t, f, fw.ID, firewall.Query{Filter: c.filter, OrderBy: c.order, PageSize: size}) {
				got = append(got, r.Revision)
			}
			wantEqual(t, fmt.Sprintf("filter %q order_by %q page_size %d", c.filter, c.order, size), got, exp)
		}
	}
	empty, err := f.s.ListRevisions(f.ctx, fw.ID, firewall.Query{Filter: `actor = "nobody"`})
	if err != nil || len(empty.Items) != 0 || empty.NextPageToken != "" {
		t.Fatalf("a filter no revision matches: %+v, %v", empty, err)
	}
	page, err := f.s.ListRevisions(f.ctx, fw.ID, firewall.Query{PageSize: 1, OrderBy: "actor"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []firewall.Query{
		{Filter: `colour = "red"`}, {Filter: `revision = "seven"`}, {Filter: `created_at > "yesterday"`},
		{OrderBy: "summary"}, {OrderBy: "revision sideways"}, {OrderBy: "revision, revision"},
		{PageToken: page.NextPageToken},       // made for another order
		{PageToken: "junk", OrderBy: "actor"}, // not a token at all
	} {
		_, err := f.s.ListRevisions(f.ctx, fw.ID, q)
		wantCode(t, err, firewall.CodeInvalid)
	}
	_, err = f.s.ListRevisions(f.ctx, f.id(), firewall.Query{Filter: `actor = "alice"`})
	wantCode(t, err, firewall.CodeNotFound)
}

// listRevisions reads every page of a listing.
func listRevisions(t *testing.T, f *fixture, firewallID string, q firewall.Query) []firewall.RevisionRecord {
	t.Helper()
	var out []firewall.RevisionRecord
	for range 100 {
		page, err := f.s.ListRevisions(f.ctx, firewallID, q)
		if err != nil {
			t.Fatalf("ListRevisions(%+v): %v", q, err)
		}
		out = append(out, page.Items...)
		if page.NextPageToken == "" {
			return out
		}
		q.PageToken = page.NextPageToken
	}
	t.Fatal("paging did not end")
	return nil
}
