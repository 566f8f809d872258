package httpapi

import (
	"fmt"
	"net/url"
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
