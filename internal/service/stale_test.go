package service_test

import (
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

// A request the firewall moved past in a way that conflicts reads as
// stale, with the reason apply would give, without a write; one the move
// does not touch reads as it is. Approving the stale one answers 409 and
// stores it stale.
func TestChangeRequestShownStaleWhenFirewallMoves(t *testing.T) {
	f := newFixture(t)
	port := func(name string, p uint16) firewall.Rule {
		r := firewall.NewRule()
		r.Name, r.Action, r.Protocol = name, firewall.Allow, firewall.TCP
		r.DestinationPorts = []firewall.PortRange{{Low: p, High: p}}
		out, _, err := f.svc.CreateRule(f.ctx, f.fw.ID, f.pol.ID, r, service.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	ssh, web := port("ssh", 22), port("web", 443)
	propose := func(title string, r firewall.Rule) firewall.ChangeRequest {
		t.Helper()
		cr, _, err := f.svc.CreateChangeRequest(f.ctx, f.fw.ID, firewall.ChangeRequest{Title: title, BaseRevision: f.revision(),
			Operations: []firewall.Operation{{Op: firewall.OpPatchRule, PolicyID: f.pol.ID, RuleID: r.ID,
				RulePatch: &firewall.RulePatch{Action: firewall.Some(firewall.Deny)}}}}, service.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		return cr
	}
	conflicting, unrelated := propose("deny ssh", ssh), propose("deny web", web)
	get := func(id string) firewall.ChangeRequest {
		t.Helper()
		cr, err := f.svc.GetChangeRequest(f.ctx, f.fw.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		return cr
	}
	if got := get(conflicting.ID); got.State != firewall.ChangeOpen {
		t.Fatalf("before the firewall moved: %s", got.State)
	}

	// Someone else has ssh rejected: the reviewed "allow -> deny" would
	// now be "reject -> deny".
	if _, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, ssh.ID, nil, firewall.RulePatch{Action: firewall.Some(firewall.Reject)}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read is served from the verdict cache
		got := get(conflicting.ID)
		if got.State != firewall.ChangeStale || !strings.Contains(got.StaleReason, "semantic diff changed") ||
			!strings.Contains(got.StaleReason, "from reject") {
			t.Fatalf("after a conflicting move: %s %q", got.State, got.StaleReason)
		}
		if got.ETag != conflicting.ETag || !got.UpdatedAt.Equal(conflicting.UpdatedAt) {
			t.Fatal("reading the request wrote it")
		}
		if got := get(unrelated.ID); got.State != firewall.ChangeOpen || got.StaleReason != "" {
			t.Fatalf("a request the move does not touch: %s %q", got.State, got.StaleReason)
		}
	}
	page, err := f.svc.ListChangeRequests(f.ctx, f.fw.ID, firewall.Query{Filter: `state = "open"`})
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]firewall.ChangeState{}
	for _, cr := range page.Items {
		shown[cr.Title] = cr.State
	}
	if len(page.Items) != 2 || shown["deny ssh"] != firewall.ChangeStale || shown["deny web"] != firewall.ChangeOpen {
		t.Fatalf("the list (filtered on the stored state) shows %v", shown)
	}

	bob := service.WithCaller(f.ctx, service.Caller{Subject: "bob", Roles: []string{"approver"}})
	_, err = f.svc.ApproveChangeRequest(bob, f.fw.ID, conflicting.ID, "", nil)
	if firewall.CodeOf(err) != firewall.CodeConflict || !strings.Contains(err.Error(), "semantic diff changed") {
		t.Fatalf("approving a stale request: %v", err)
	}
	if got := get(conflicting.ID); got.State != firewall.ChangeStale || got.ETag == conflicting.ETag {
		t.Fatalf("after the refused approval the request is stored %s (etag %s)", got.State, got.ETag)
	}
	if _, err := f.svc.ApproveChangeRequest(bob, f.fw.ID, unrelated.ID, "", nil); err != nil {
		t.Fatalf("approving the unrelated request: %v", err)
	}
	if _, err := f.svc.ApplyChangeRequest(f.ctx, f.fw.ID, unrelated.ID, "", nil); err != nil {
		t.Fatalf("applying the unrelated request: %v", err)
	}

	// A request whose rule was deleted since reads stale too.
	gone := propose("deny web again", web)
	if err := f.svc.DeleteRule(f.ctx, f.fw.ID, f.pol.ID, web.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := get(gone.ID); got.State != firewall.ChangeStale || !strings.Contains(got.StaleReason, "no longer apply") {
		t.Fatalf("after its rule was deleted: %s %q", got.State, got.StaleReason)
	}
}
