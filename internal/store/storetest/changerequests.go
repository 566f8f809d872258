package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func changeRequestCases() []testCase {
	return []testCase{
		{"ChangeRequests/RoundTrip", changeRequestRoundTrip},
		{"ChangeRequests/Review", changeRequestReview},
		{"ChangeRequests/ListFilterOrderPage", changeRequestList},
		{"ChangeRequests/NotFound", changeRequestNotFound},
		{"ChangeRequests/GoWithTheirFirewall", changeRequestCascade},
		{"ChangeRequests/AuditEventsNameThem", changeRequestAudit},
	}
}

// changeRequest returns a change request on fw holding one operation (or,
// with candidate, a candidate tree), its base the tree given.
func (f *fixture) changeRequest(fw firewall.Firewall, title string, candidate bool) firewall.ChangeRequest {
	at := f.now()
	base := firewall.Tree{Firewall: fw}
	cr := firewall.ChangeRequest{
		Meta:       firewall.Meta{ID: f.id(), ETag: f.etag(), CreatedAt: at, UpdatedAt: at},
		FirewallID: fw.ID, Title: title, Description: "why: " + title, BaseRevision: fw.Revision,
		Base: &base, Impact: json.RawMessage(`{"structural":{"rules":[]},"semantic":{"NoOp":true}}`),
		NoOp: true, State: firewall.ChangeOpen, Author: "alice",
		Comments: []firewall.ChangeComment{{At: at, Actor: "alice", Action: "create", Text: "please"}},
	}
	if candidate {
		p := firewall.NewPolicy()
		p.ID, p.FirewallID, p.Name, p.Priority = f.id(), fw.ID, "new", 7
		cr.Candidate = &firewall.Tree{Firewall: fw, Policies: []firewall.PolicyTree{{Policy: p}}}
		return cr
	}
	r := firewall.NewRule()
	r.ID, r.Action = f.id(), firewall.Deny
	r.Sources = firewall.ParsePrefixes("sources", []string{"10.0.0.0/8"}, new(firewall.Problems))
	cr.Operations = []firewall.Operation{
		{Op: firewall.OpCreateRule, PolicyName: "baseline", Rule: &r},
		{Op: firewall.OpPatchRule, PolicyName: "baseline", RuleName: "web",
			RulePatch: &firewall.RulePatch{Action: firewall.Some(firewall.Reject), Description: firewall.Null[string]()}},
	}
	return cr
}

func (f *fixture) createChangeRequest(cr *firewall.ChangeRequest) {
	f.t.Helper()
	f.update(func(tx store.Tx) error { return tx.CreateChangeRequest(f.ctx, cr) })
}

// asJSON compares change requests by their stored form: the operations'
// patches hold Optional fields that only their JSON shows faithfully.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func changeRequestRoundTrip(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	for _, candidate := range []bool{false, true} {
		t.Run(fmt.Sprintf("candidate=%v", candidate), func(t *testing.T) {
			f := f.with(t)
			cr := f.changeRequest(fw, fmt.Sprintf("change %v", candidate), candidate)
			f.createChangeRequest(&cr)
			got, err := f.s.GetChangeRequest(f.ctx, fw.ID, cr.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantUTC(t, got.CreatedAt, got.UpdatedAt, got.Comments[0].At)
			wantEqual(t, "change request", asJSON(t, got), asJSON(t, cr))
			wantEqual(t, "base tree", asJSON(t, got.Base), asJSON(t, cr.Base))
			var impact, want any
			_ = json.Unmarshal(got.Impact, &impact)
			_ = json.Unmarshal(cr.Impact, &want)
			wantEqual(t, "impact", impact, want)
			if !candidate {
				p := got.Operations[1].RulePatch
				if !p.Action.Set || p.Action.Value != firewall.Reject || !p.Description.Null || p.Name.Set {
					t.Fatalf("the patch read back as %+v", p)
				}
			}
		})
	}
}

func changeRequestReview(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	cr := f.changeRequest(fw, "tighten", false)
	f.createChangeRequest(&cr)
	cr.State, cr.Reviewer, cr.AppliedRevision, cr.StaleReason = firewall.ChangeApplied, "bob", 9, ""
	cr.ETag, cr.UpdatedAt = f.etag(), f.now()
	cr.Comments = append(cr.Comments, firewall.ChangeComment{At: cr.UpdatedAt, Actor: "bob", Action: "approve", Text: "ok"})
	f.update(func(tx store.Tx) error { return tx.UpdateChangeRequest(f.ctx, &cr) })
	got, err := f.s.GetChangeRequest(f.ctx, fw.ID, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "reviewed change request", asJSON(t, got), asJSON(t, cr))

	// A rolled-back review leaves the request as it was.
	next := cr
	next.State = firewall.ChangeCancelled
	err = f.try(func(tx store.Tx) error {
		if err := tx.UpdateChangeRequest(f.ctx, &next); err != nil {
			return err
		}
		return fmt.Errorf("roll back")
	})
	if err == nil {
		t.Fatal("the transaction did not fail")
	}
	if got, _ := f.s.GetChangeRequest(f.ctx, fw.ID, cr.ID); got.State != firewall.ChangeApplied {
		t.Fatalf("state %s after a rolled-back update", got.State)
	}

	missing := cr
	missing.ID = f.id()
	wantNotFound(t, f.try(func(tx store.Tx) error { return tx.UpdateChangeRequest(f.ctx, &missing) }), "change request", missing.ID)
}

func changeRequestList(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	other := f.firewall("other")
	var made []firewall.ChangeRequest
	for i, title := range []string{"b", "a", "c"} {
		cr := f.changeRequest(fw, title, i == 2)
		if i == 1 {
			cr.State = firewall.ChangeApproved
		}
		f.createChangeRequest(&cr)
		made = append(made, cr)
	}
	o := f.changeRequest(other, "elsewhere", false)
	f.createChangeRequest(&o)

	list := func(q firewall.Query) []string {
		t.Helper()
		var ids []string
		for range 10 {
			page, err := f.s.ListChangeRequests(f.ctx, fw.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, cr := range page.Items {
				if cr.Base != nil {
					t.Fatal("a listed change request carries its base tree")
				}
				ids = append(ids, cr.ID)
			}
			if page.NextPageToken == "" {
				return ids
			}
			q.PageToken = page.NextPageToken
		}
		t.Fatal("paging did not end")
		return nil
	}
	wantEqual(t, "default order (newest first)", list(firewall.Query{PageSize: 1}), []string{made[2].ID, made[1].ID, made[0].ID})
	wantEqual(t, "by title", list(firewall.Query{PageSize: 2, OrderBy: "title"}), []string{made[1].ID, made[0].ID, made[2].ID})
	wantEqual(t, "open ones", list(firewall.Query{Filter: `state = "open"`, OrderBy: "created_at"}), []string{made[0].ID, made[2].ID})
	wantEqual(t, "by author", list(firewall.Query{Filter: `author = "alice" AND title = "a"`}), []string{made[1].ID})

	_, err := f.s.ListChangeRequests(f.ctx, fw.ID, firewall.Query{Filter: `colour = "red"`})
	wantCode(t, err, firewall.CodeInvalid)
}

func changeRequestNotFound(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	missing := f.id()
	_, err := f.s.GetChangeRequest(f.ctx, fw.ID, missing)
	wantNotFound(t, err, "change request", missing)
	_, err = f.s.GetChangeRequest(f.ctx, missing, missing)
	wantNotFound(t, err, "firewall", missing)
	_, err = f.s.ListChangeRequests(f.ctx, missing, firewall.Query{})
	wantNotFound(t, err, "firewall", missing)
	cr := f.changeRequest(fw, "lost", false)
	cr.FirewallID = missing
	wantNotFound(t, f.try(func(tx store.Tx) error { return tx.CreateChangeRequest(f.ctx, &cr) }), "firewall", missing)
}

func changeRequestCascade(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	cr := f.changeRequest(fw, "doomed", false)
	f.createChangeRequest(&cr)
	f.update(func(tx store.Tx) error { return tx.DeleteFirewall(f.ctx, fw.ID, false) })
	_, err := f.s.GetChangeRequest(f.ctx, fw.ID, cr.ID)
	wantNotFound(t, err, "firewall", fw.ID)
}

func changeRequestAudit(t *testing.T, f *fixture) {
	named := f.auditEvent(firewall.AuditUpdate, `{"a":1}`, `{"a":2}`)
	named.ChangeRequestID = f.id()
	plain := f.auditEvent(firewall.AuditCreate, "", `{"a":1}`)
	f.appendEvents(plain, named)
	page, err := f.s.ListAuditEvents(f.ctx, firewall.Query{Filter: fmt.Sprintf("change_request_id = %q", named.ChangeRequestID)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != named.ID || page.Items[0].ChangeRequestID != named.ChangeRequestID {
		t.Fatalf("events of the change request: %+v", page.Items)
	}
	page, err = f.s.ListAuditEvents(f.ctx, firewall.Query{Filter: `change_request_id = ""`})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.Items[0].ID != plain.ID {
		t.Fatalf("events of no change request: %+v", page.Items)
	}
}
