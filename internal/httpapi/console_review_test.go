package httpapi

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
)

// reviewFirewall is the firewall the review steps of the journey work on,
// made through the API: a baseline policy whose rule lab-admin-ssh is
// fully shadowed by the earlier block-lab-ssh.
type reviewFirewall struct {
	id, policy                string
	blocker, shadowed, web    string
	blockerName, shadowedName string
}

func (f reviewFirewall) path() string { return "/api/v1/firewalls/" + f.id }

// newReviewFirewall makes the review firewall as an admin.
func newReviewFirewall(t *testing.T, s *consoleSession) reviewFirewall {
	t.Helper()
	admin := s.tokens["admin"]
	f := reviewFirewall{blockerName: "block-lab-ssh", shadowedName: "lab-admin-ssh"}
	f.id = s.apiJSON(t, admin, "POST", "/api/v1/firewalls", map[string]any{"name": "edge-review", "default_action": "deny"})["id"].(string)
	f.policy = s.apiJSON(t, admin, "POST", f.path()+"/filtering-policies", map[string]any{"name": "baseline", "priority": 100})["id"].(string)
	rule := func(body map[string]any) string {
		return s.apiJSON(t, admin, "POST", f.path()+"/filtering-policies/"+f.policy+"/rules", body)["id"].(string)
	}
	f.blocker = rule(map[string]any{"name": f.blockerName, "action": "deny", "protocol": "tcp",
		"sources": []string{"10.20.0.0/16"}, "destination_ports": []string{"22"}})
	f.shadowed = rule(map[string]any{"name": f.shadowedName, "action": "allow", "protocol": "tcp",
		"sources": []string{"10.20.1.0/24"}, "destination_ports": []string{"22"}, "description": "lab admins reach the lab over ssh"})
	f.web = rule(map[string]any{"name": "web", "action": "allow", "protocol": "tcp", "destination_ports": []string{"443"}})
	return f
}

// consoleReviewSteps runs steps 5 to 7 of the journey and the groups pages,
// after steps 1 to 4 of TestConsoleJourney.
func consoleReviewSteps(t *testing.T, s *consoleSession) {
	f := newReviewFirewall(t, s)
	consoleStepFindings(t, s, f)
	base, applied := consoleStepChangeRequest(t, s, f)
	consoleStepCompare(t, s, f, base, applied)
	consoleGroupPages(t, s, f)
}

// consoleStepFindings is step 5: a viewer sees the unreachable rule with
// the rule that blocks it, both linked to their place, on the findings
// page.
func consoleStepFindings(t *testing.T, s *consoleSession, f reviewFirewall) {
	s.signIn(t, s.tokens["viewer"])
	s.open(t, "/firewalls/"+f.id+"/findings")
	finding := fmt.Sprintf(`[data-test="finding-unreachable"][data-rule-id="%s"]`, f.shadowed)
	s.waitText(t, finding+` [data-test="finding-rule"]`, f.shadowedName)
	s.waitText(t, finding+` [data-test="blocker"]`, f.blockerName)
	s.waitText(t, finding+` [data-test="blocker"]`, "deny")
	href := consoleEval[string](t, s, "read the blocker's link",
		`document.querySelector(`+js(finding+` [data-test="blocker-link"]`)+`).getAttribute('href')`)
	if want := "#/firewalls/" + f.id + "?rule=" + f.blocker; href != want {
		t.Errorf("the blocker links to %q, want %q", href, want)
	}
	// The search finds a flow the unreachable rule matches, one click
	// from the evaluator; the evaluator's link carries the flow.
	s.click(t, finding+` [data-test="find-flow"]`)
	s.waitText(t, finding+` [data-test="evaluate-example"]`, "Evaluate this flow")
	href = consoleEval[string](t, s, "read the example's link",
		`document.querySelector(`+js(finding+` [data-test="evaluate-example"]`)+`).getAttribute('href')`)
	ev, err := url.Parse(href[1:])
	if err != nil || ev.Path != "/firewalls/"+f.id+"/evaluate" || ev.Query().Get("protocol") != "tcp" ||
		ev.Query().Get("destination_port") != "22" || ev.Query().Get("source_ip") == "" {
		t.Errorf("the example flow links to %q, want the evaluator with a tcp flow to port 22", href)
	}
	s.screenshot(t, "journey-5-findings")
	s.axe(t, "findings")
}

// consoleStepChangeRequest is step 6: an editor who is also an approver
// proposes a change from edits made in the console (move the shadowed rule
// above its blocker, widen web, add a rule), fails to approve it as its
// author, an approver approves it, and an editor applies it. It returns
// the request's base revision and the revision applying made.
func consoleStepChangeRequest(t *testing.T, s *consoleSession, f reviewFirewall) (base, applied int64) {
	author, err := auth.Mint(testSecret, "console-author", []string{"editor", "approver"}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.signIn(t, author)
	s.open(t, "/firewalls/"+f.id+"/change-requests/new")
	row := func(id string) string { return fmt.Sprintf(`[data-test="draft-rule"][data-rule-id="%s"]`, id) }
	s.waitText(t, row(f.shadowed), f.shadowedName)
	s.axe(t, "new change request")

	s.click(t, row(f.shadowed)+` [data-test="move-up"]`)
	s.waitText(t, `[data-test="pending-op"]`, "Move rule "+f.shadowedName)
	// The draft is drawn again; the keyboard stays on the rule just moved.
	if got := consoleEval[string](t, s, "read the focus",
		`(document.activeElement.closest('[data-rule-id]') || {dataset: {}}).dataset.ruleId || ''`); got != f.shadowed {
		t.Errorf("after the move the focus is in the row of %q, want the moved rule %s", got, f.shadowed)
	}
	s.click(t, row(f.web)+` [data-test="edit-rule"]`)
	s.fill(t, `#edit-rule-destination_ports`, "443, 8443")
	s.click(t, `[data-test="edit-rule-submit"]`)
	s.waitText(t, `[data-test="pending-op"]`, "destination_ports → 443, 8443")
	s.fill(t, `#add-rule-name`, "lab-dns")
	s.fill(t, `#add-rule-protocol`, "udp")
	s.fill(t, `#add-rule-destinations`, "10.20.0.53")
	s.fill(t, `#add-rule-destination_ports`, "53")
	s.click(t, `[data-test="add-rule-submit"]`)
	s.waitText(t, `[data-test="pending-op"]`, "lab-dns")
	s.waitText(t, `[data-test="pending-ops"] h2`, "Pending operations (3)")
	s.screenshot(t, "journey-6a-draft")
	s.fill(t, `[data-test="cr-title"]`, "Let lab admins in over ssh")
	s.fill(t, `[data-test="cr-description"]`, "Ticket 4711: lab-admin-ssh never matched.")
	s.click(t, `[data-test="cr-submit"]`)
	s.waitText(t, `[data-test="cr-state"]`, "open")
	s.waitText(t, `[data-test="structural-diff"]`, "Moved")
	s.waitText(t, `[data-test="findings-removed"]`, "unreachable")

	crs := s.apiJSON(t, s.tokens["viewer"], "GET", f.path()+"/change-requests", nil)["items"].([]any)
	if len(crs) != 1 {
		t.Fatalf("change requests after proposing: %v", crs)
	}
	cr := crs[0].(map[string]any)
	crID := cr["id"].(string)
	if cr["author"] != "console-author" || len(cr["operations"].([]any)) != 3 {
		t.Fatalf("the proposed request: %v", cr)
	}
	base = int64(cr["base_revision"].(float64))

	// Four eyes: the author holds the approver role, and is still refused.
	s.click(t, `[data-test="cr-approve"]`)
	s.waitText(t, `[data-test="cr-action-result"] [role="alert"]`, "another person must approve")
	s.waitText(t, `[data-test="cr-action-result"]`, "Four eyes")
	s.waitText(t, `[data-test="cr-state"]`, "open")
	s.screenshot(t, "journey-6b-own-approval-refused")
	s.axe(t, "change request (refused)")

	crPage := "/firewalls/" + f.id + "/change-requests/" + crID
	s.signIn(t, s.tokens["approver"])
	s.open(t, crPage)
	s.waitText(t, `[data-test="cr-state"]`, "open")
	s.fill(t, `[data-test="cr-comment"]`, "Checked the impact: only the lab's ssh changes.")
	s.click(t, `[data-test="cr-approve"]`)
	s.waitText(t, `[data-test="cr-state"]`, "approved")
	s.waitText(t, `[data-test="cr-comments"]`, "console-approver approve")
	s.screenshot(t, "journey-6c-approved")

	s.signIn(t, s.tokens["editor"])
	s.open(t, crPage)
	s.waitText(t, `[data-test="cr-state"]`, "approved")
	s.click(t, `[data-test="cr-apply"]`)
	s.waitText(t, `[data-test="cr-state"]`, "applied")
	s.screenshot(t, "journey-6d-applied")
	s.axe(t, "change request (applied)")

	got := s.apiJSON(t, s.tokens["viewer"], "GET", f.path()+"/change-requests/"+crID, nil)
	if got["state"] != "applied" || got["reviewer"] != "console-approver" {
		t.Fatalf("after apply: %v", got)
	}
	applied = int64(got["applied_revision"].(float64))
	tree := s.apiJSON(t, s.tokens["viewer"], "GET", f.path()+"/tree", nil)
	rules := tree["policies"].([]any)[0].(map[string]any)["rules"].([]any)
	if len(rules) != 4 || rules[0].(map[string]any)["id"] != f.shadowed {
		t.Fatalf("rules after apply: %v, want 4 with %s first", rules, f.shadowedName)
	}

	s.open(t, "/firewalls/"+f.id+"/change-requests?state=applied")
	s.waitText(t, `[data-test="cr-row"]`, "Let lab admins in over ssh")
	s.axe(t, "change requests")
	return base, applied
}

// consoleStepCompare is step 7: a viewer picks the revisions before and
// after the change in the list and sees them side by side, with the
// structural diff (moved, changed, added) and the semantic diff.
func consoleStepCompare(t *testing.T, s *consoleSession, f reviewFirewall, base, applied int64) {
	s.signIn(t, s.tokens["viewer"])
	s.open(t, "/firewalls/"+f.id+"/revisions")
	s.waitText(t, `[data-test="revision-row"]`, "console-editor")
	s.axe(t, "revisions")
	s.click(t, fmt.Sprintf(`[data-test="pick-a-%d"]`, base))
	s.click(t, fmt.Sprintf(`[data-test="pick-b-%d"]`, applied))
	s.click(t, `[data-test="compare"]`)
	s.waitText(t, `[data-test="compare-view"] h2`, fmt.Sprintf("Revision %d → revision %d", base, applied))
	d := `[data-test="structural-diff"]`
	s.waitText(t, d+` [data-test="rule-moved"]`, f.shadowedName)
	s.waitText(t, d+` [data-test="rule-changed"]`, "destination_ports")
	s.waitText(t, d+` [data-test="rule-added"]`, "lab-dns")
	s.waitText(t, `[data-test="semantic-diff"] [data-test="region"]`, "Evaluate this flow")
	s.waitText(t, `[data-test="side-old"]`, f.blockerName)
	s.waitText(t, `[data-test="side-new"]`, "lab-dns")
	s.screenshot(t, "journey-7-compare")
	s.axe(t, "revisions compared")
}

// consoleGroupPages checks the groups list and a group's page with where
// it is used, on groups made through the API and used by a rule.
func consoleGroupPages(t *testing.T, s *consoleSession, f reviewFirewall) {
	admin := s.tokens["admin"]
	ag := s.apiJSON(t, admin, "POST", "/api/v1/address-groups", map[string]any{"name": "lab-hosts", "description": "the lab's admin hosts",
		"addresses": []string{"10.20.1.0/24", "2001:db8:20::/48"}})["id"].(string)
	s.apiJSON(t, admin, "POST", "/api/v1/address-groups", map[string]any{"name": "all-labs", "groups": []string{"lab-hosts"}})
	sg := s.apiJSON(t, admin, "POST", "/api/v1/service-groups", map[string]any{"name": "remote-admin",
		"services": []any{map[string]any{"protocol": "tcp", "ports": []string{"22", "3389"}}}})["id"].(string)
	s.apiJSON(t, admin, "POST", f.path()+"/filtering-policies/"+f.policy+"/rules", map[string]any{"name": "lab-remote-admin",
		"action": "allow", "source_groups": []string{"all-labs"}, "service_groups": []string{"remote-admin"}})

	s.open(t, "/groups")
	s.waitText(t, `[data-test="address-groups"]`, "lab-hosts")
	s.waitText(t, `[data-test="service-groups"]`, "tcp/22,3389")
	s.axe(t, "groups")

	s.open(t, "/groups/address/"+ag)
	s.waitText(t, `[data-test="group-name"]`, "lab-hosts")
	s.waitText(t, `[data-test="group-members"]`, "2001:db8:20::/48")
	s.waitText(t, `[data-test="usage-rule"]`, "lab-remote-admin")
	s.waitText(t, `[data-test="usage-rule"]`, "all-labs") // used through the group that nests it
	s.waitText(t, `[data-test="usage-firewall"]`, "edge-review")
	s.screenshot(t, "journey-8-address-group-usage")
	s.axe(t, "address group")

	s.open(t, "/groups/service/"+sg)
	s.waitText(t, `[data-test="usage-rule"]`, "lab-remote-admin")
	s.axe(t, "service group")
}

// TestConsoleReviewPages checks the review pages beyond the journey: names
// that look like markup stay text, a stale review step says the request
// changed, rejecting and the state filter, paging through revisions, an
// unknown firewall, and the narrow layout.
func TestConsoleReviewPages(t *testing.T) {
	s := newConsoleSession(t)
	f := newReviewFirewall(t, s)
	editor, viewer := s.tokens["editor"], s.tokens["viewer"]
	const hostile = `<img src=x onerror="window.pwned=1">`
	rules := f.path() + "/filtering-policies/" + f.policy + "/rules"
	// propose asks, as the editor, for a rule named rule that acts on
	// snmp; its title is title.
	propose := func(t *testing.T, title, rule, action string) (id, page string) {
		t.Helper()
		rev := s.apiJSON(t, viewer, "GET", f.path(), nil)["revision"]
		cr := s.apiJSON(t, editor, "POST", f.path()+"/change-requests", map[string]any{"title": title, "base_revision": rev,
			"operations": []any{map[string]any{"op": "create_rule", "policy_id": f.policy,
				"rule": map[string]any{"name": rule, "action": action, "protocol": "udp", "destination_ports": []string{"161"}}}}})
		id = cr["id"].(string)
		return id, "/firewalls/" + f.id + "/change-requests/" + id
	}
	noMarkup := func(t *testing.T) {
		t.Helper()
		if n := consoleEval[int](t, s, "count images", `document.querySelectorAll('main img').length`); n != 0 {
			t.Errorf("%d img elements in the page: a name was parsed as markup", n)
		}
		if consoleEval[bool](t, s, "read window.pwned", `window.pwned === 1`) {
			t.Error("a name's onerror ran")
		}
	}

	t.Run("HostileNamesAreText", func(t *testing.T) {
		s.apiJSON(t, s.tokens["admin"], "POST", rules, map[string]any{"name": hostile, "action": "allow", "protocol": "tcp",
			"sources": []string{"10.20.9.0/24"}, "destination_ports": []string{"22"}})
		s.apiJSON(t, s.tokens["admin"], "POST", "/api/v1/address-groups", map[string]any{"name": "hostile-desc", "description": hostile,
			"addresses": []string{"192.0.2.0/24"}})
		_, page := propose(t, hostile, hostile+" again", "deny")
		s.signIn(t, viewer)
		s.open(t, "/firewalls/"+f.id+"/findings")
		s.waitText(t, `[data-test="finding-unreachable"] [data-test="finding-rule"]`, hostile)
		noMarkup(t)
		s.open(t, page)
		s.waitText(t, "main h1", hostile)
		s.waitText(t, `[data-test="cr-operations"]`, hostile)
		noMarkup(t)
		s.open(t, "/groups")
		s.waitText(t, `[data-test="address-groups"]`, hostile)
		noMarkup(t)
	})

	t.Run("StaleStepSaysTheRequestChanged", func(t *testing.T) {
		id, page := propose(t, "open snmp", "snmp", "allow")
		s.signIn(t, s.tokens["approver"])
		s.open(t, page)
		s.waitText(t, `[data-test="cr-state"]`, "open")
		// The author withdraws it while the approver reads.
		s.apiJSON(t, editor, "POST", f.path()+"/change-requests/"+id+"/cancel", map[string]any{"comment": "not needed"})
		s.click(t, `[data-test="cr-approve"]`)
		s.waitText(t, `[data-test="cr-action-result"] [role="alert"]`, "changed since you read it")
		s.click(t, `[data-test="cr-reload"]`)
		s.waitText(t, `[data-test="cr-state"]`, "cancelled")
		s.waitText(t, `[data-test="cr-comments"]`, "not needed")
		if n := consoleEval[int](t, s, "count step buttons", `document.querySelectorAll('.cr-step').length`); n != 0 {
			t.Errorf("a cancelled request offers %d review steps, want none", n)
		}
	})

	t.Run("RejectAndFilterByState", func(t *testing.T) {
		_, page := propose(t, "block snmp", "snmp", "deny")
		s.signIn(t, s.tokens["approver"])
		s.open(t, page)
		s.fill(t, `[data-test="cr-comment"]`, "use the snmp group instead")
		s.click(t, `[data-test="cr-reject"]`)
		s.waitText(t, `[data-test="cr-state"]`, "rejected")
		s.waitText(t, `[data-test="cr-comments"]`, "use the snmp group instead")
		s.open(t, "/firewalls/"+f.id+"/change-requests")
		s.waitText(t, `[data-test="cr-row"]`, "block snmp")
		s.fill(t, `[data-test="cr-state-filter"]`, "rejected")
		s.click(t, `form.filter button[type="submit"]`)
		s.waitText(t, "main caption", "rejected")
		rows := consoleEval[[]string](t, s, "read the rows", `[...document.querySelectorAll('[data-test="cr-row"]')].map((r) => r.textContent)`)
		if len(rows) != 1 || !strings.Contains(rows[0], "block snmp") {
			t.Errorf("rejected requests: %q, want only block snmp", rows)
		}
		s.axe(t, "change requests (rejected)")
	})

	t.Run("RevisionsPageThroughTheList", func(t *testing.T) {
		for i := range 22 {
			s.apiJSON(t, editor, "POST", rules, map[string]any{"name": fmt.Sprintf("bulk-%02d", i), "action": "allow",
				"protocol": "udp", "destination_ports": []string{fmt.Sprint(10000 + i)}})
		}
		s.signIn(t, viewer)
		s.open(t, "/firewalls/"+f.id+"/revisions")
		s.waitText(t, `[data-test="revision-row"]`, `created rule "bulk-21"`)
		first := consoleEval[int](t, s, "count rows", `document.querySelectorAll('[data-test="revision-row"]').length`)
		if first != 20 {
			t.Errorf("the first page has %d revisions, want 20", first)
		}
		s.click(t, `[data-test="pager-next"]`)
		s.waitText(t, `[data-test="revision-row"]`, `created firewall "edge-review"`)
		s.click(t, `[data-test="pager-prev"]`)
		s.waitText(t, `[data-test="revision-row"]`, `created rule "bulk-21"`)
	})

	t.Run("UnknownFirewall", func(t *testing.T) {
		for _, p := range []string{"findings", "revisions?a=1&b=2", "change-requests", "change-requests/new"} {
			s.open(t, "/firewalls/no-such-firewall/"+p)
			s.waitText(t, `main [role="alert"]`, "Not Found")
		}
		s.open(t, "/groups/address/no-such-group")
		s.waitText(t, `main [role="alert"]`, "Not Found")
	})

	t.Run("NarrowScreen", func(t *testing.T) {
		_, page := propose(t, "narrow", "snmp", "allow")
		s.signIn(t, viewer)
		s.viewport(t, 375, 800)
		defer s.viewport(t, 1280, 1024)
		s.open(t, page)
		s.waitText(t, `[data-test="cr-state"]`, "open")
		s.waitText(t, `[data-test="semantic-diff"]`, "Evaluate this flow")
		wide := consoleEval[bool](t, s, "measure the page", `document.documentElement.scrollWidth > window.innerWidth + 1`)
		if wide {
			t.Errorf("the change request page scrolls sideways at 375 px")
		}
		s.screenshot(t, "review-change-request-375px")
		s.axe(t, "change request (375 px)")
	})
}
