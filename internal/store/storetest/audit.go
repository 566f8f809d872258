package storetest

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func auditCases() []testCase {
	return []testCase{
		{"Audit/AppendListRoundTrip", auditRoundTrip},
		{"Audit/PagesNewestFirst", auditPaging},
		{"Audit/RolledBackChangeLeavesNoEvent", auditRollback},
		{"Audit/OutlivesDeletedFirewall", auditOutlivesFirewall},
	}
}

func (f *fixture) auditEvent(action firewall.AuditAction, before, after string) firewall.AuditEvent {
	ev := firewall.AuditEvent{
		ID: f.id(), OccurredAt: f.now(), ActorSubject: "alice", ActorRoles: []string{"editor", "custom"},
		Action: action, ResourceType: firewall.KindRule, ResourceID: f.id(), FirewallID: f.id(), RequestID: "req-1",
	}
	if before != "" {
		ev.Before = json.RawMessage(before)
	}
	if after != "" {
		ev.After = json.RawMessage(after)
	}
	return ev
}

func (f *fixture) appendEvents(evs ...firewall.AuditEvent) {
	f.t.Helper()
	f.update(func(tx store.Tx) error {
		for _, ev := range evs {
			if err := tx.AppendAuditEvent(f.ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// allEvents lists the whole audit log, page by page.
func (f *fixture) allEvents(pageSize int) []firewall.AuditEvent {
	f.t.Helper()
	var out []firewall.AuditEvent
	q := firewall.Query{PageSize: pageSize}
	for range 1000 {
		page, err := f.s.ListAuditEvents(f.ctx, q)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, page.Items...)
		if page.NextPageToken == "" {
			return out
		}
		q.PageToken = page.NextPageToken
	}
	f.t.Fatal("the audit log does not end")
	return nil
}

func auditRoundTrip(t *testing.T, f *fixture) {
	created := f.auditEvent(firewall.AuditCreate, "", `{"name":"a"}`)
	deleted := f.auditEvent(firewall.AuditDelete, `{"name":"a","sources":["10.0.0.0/8"]}`, "")
	f.appendEvents(created, deleted)
	got := f.allEvents(10)
	wantEqual(t, "audit log", got, []firewall.AuditEvent{deleted, created})
	for _, ev := range got {
		wantUTC(t, ev.OccurredAt)
	}
}

func auditPaging(t *testing.T, f *fixture) {
	var want []firewall.AuditEvent
	for range 7 {
		ev := f.auditEvent(firewall.AuditUpdate, `{"v":1}`, `{"v":2}`)
		f.appendEvents(ev)
		want = append([]firewall.AuditEvent{ev}, want...)
	}
	for _, size := range []int{1, 2, 3, 7, 8} {
		wantEqual(t, "audit log", f.with(t).allEvents(size), want)
	}
}

func auditRollback(t *testing.T, f *fixture) {
	errAbort := errors.New("abort")
	err := f.try(func(tx store.Tx) error {
		if err := tx.AppendAuditEvent(f.ctx, f.auditEvent(firewall.AuditCreate, "", `{}`)); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	if got := f.allEvents(10); len(got) != 0 {
		t.Fatalf("a rolled-back transaction left audit events: %+v", got)
	}
}

func auditOutlivesFirewall(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	ev := f.auditEvent(firewall.AuditCreate, "", `{"name":"edge"}`)
	ev.ResourceType, ev.ResourceID, ev.FirewallID = firewall.KindFirewall, fw.ID, fw.ID
	f.appendEvents(ev)
	f.update(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, fw.ID, true) })
	wantEqual(t, "audit log", f.allEvents(10), []firewall.AuditEvent{ev})
}
