package httpapi

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/auth"
)

// The fixtures are real iptables-save and nft -j output, kept with the importer.
func importFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../export/testdata/import/" + name)
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return string(b)
}

func (s *testServer) newFirewall(name string) string {
	s.t.Helper()
	fw := s.must(http.StatusCreated, http.MethodPost, "/api/v1/firewalls", map[string]any{"name": name, "default_action": "allow"})
	return fw["id"].(string)
}

func importURL(fwID, query string) string {
	return "/api/v1/firewalls/" + fwID + "/import?" + query
}

const textPlain = "text/plain"

// TestImportDryRunThenApply runs on both stores: the apply is one
// transaction of many creates.
func TestImportDryRunThenApply(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { importDryRunThenApply(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { importDryRunThenApply(t, newPostgresTestServer(t)) })
}

func importDryRunThenApply(t *testing.T, s *testServer) {
	fwID := s.newFirewall("imported")
	body := importFixture(t, "mixed.iptables")

	dry := s.must(http.StatusOK, http.MethodPost, importURL(fwID, "format=iptables"), body, "Content-Type", textPlain)
	if dry["applied"] != false || dry["default_action"] != "deny" || dry["policy_count"] != float64(2) || dry["rule_count"] != float64(6) {
		t.Fatalf("dry run: %v", dry)
	}
	skipped := dry["skipped"].([]any)
	if len(skipped) != 1 || skipped[0].(map[string]any)["line"] != float64(16) {
		t.Fatalf("skipped: %v", skipped)
	}
	// A dry run writes nothing.
	if items := s.must(http.StatusOK, http.MethodGet, "/api/v1/firewalls/"+fwID+"/filtering-policies", nil)["items"].([]any); len(items) != 0 {
		t.Fatalf("dry run created policies: %v", items)
	}

	res := s.do(http.MethodPost, importURL(fwID, "format=iptables&apply=true"), body, "Content-Type", textPlain)
	assertProblem(t, res, http.StatusBadRequest, "query.partial", "cannot be imported faithfully")

	applied := s.must(http.StatusOK, http.MethodPost, importURL(fwID, "format=iptables&chain=FORWARD&apply=true&partial=true"), body, "Content-Type", textPlain)
	if applied["applied"] != true {
		t.Fatalf("apply: %v", applied)
	}
	policies := s.must(http.StatusOK, http.MethodGet, "/api/v1/firewalls/"+fwID+"/filtering-policies", nil)["items"].([]any)
	if len(policies) != 2 || policies[0].(map[string]any)["name"] != "ff-p1" || policies[1].(map[string]any)["default_action"] != "deny" {
		t.Fatalf("policies after apply: %v", policies)
	}
	p1 := policies[0].(map[string]any)["id"].(string)
	rules := s.must(http.StatusOK, http.MethodGet, "/api/v1/firewalls/"+fwID+"/filtering-policies/"+p1+"/rules", nil)["items"].([]any)
	if len(rules) != 5 || rules[0].(map[string]any)["description"] != `r-1 ssh "x"` {
		t.Fatalf("rules after apply: %v", rules)
	}
	fw := s.must(http.StatusOK, http.MethodGet, "/api/v1/firewalls/"+fwID, nil)
	if fw["default_action"] != "deny" || fw["revision"] != applied["revision"] {
		t.Fatalf("firewall after apply: %v (import said revision %v)", fw, applied["revision"])
	}
	// One audit event for the firewall default and one per policy and rule,
	// all from the same request.
	events := s.must(http.StatusOK, http.MethodGet, "/api/v1/audit-events?page_size=100&filter="+
		strings.ReplaceAll(fmt.Sprintf(`firewall_id = "%s"`, fwID), " ", "%20"), nil)["items"].([]any)
	if len(events) != 1+1+2+6 { // create firewall, update default, 2 policies, 6 rules
		t.Fatalf("%d audit events, want 10", len(events))
	}

	// The firewall is no longer empty.
	res = s.do(http.MethodPost, importURL(fwID, "format=iptables&apply=true&partial=true"), body, "Content-Type", textPlain)
	assertProblem(t, res, http.StatusConflict, "", "")
	res = s.do(http.MethodPost, importURL(fwID, "format=iptables"), body, "Content-Type", textPlain)
	assertProblem(t, res, http.StatusConflict, "", "")
}

func TestImportNFTablesJSON(t *testing.T) {
	s := newTestServer(t)
	fwID := s.newFirewall("nft")
	out := s.must(http.StatusOK, http.MethodPost, importURL(fwID, "format=nftables&apply=true&partial=true"), importFixture(t, "mixed.nft.json"))
	if out["start_chain"] != "inet/fw1/forward" || out["policy_count"] != float64(2) || out["rule_count"] != float64(9) {
		t.Fatalf("nft import: %v", out)
	}
	for _, st := range out["skipped"].([]any) {
		if st.(map[string]any)["handle"] == nil {
			t.Fatalf("skipped statement without a handle: %v", st)
		}
	}
}

func TestImportBadInput(t *testing.T) {
	s := newTestServer(t)
	fwID := s.newFirewall("bad")
	good := importFixture(t, "mixed.iptables")
	cases := []struct {
		name, query, body, contentType string
		status                         int
		location, msg                  string
	}{
		{"syntax error names the line", "format=iptables", "*filter\n:FORWARD DROP [0:0]\n-A FORWARD -s 10.0.0.300 -j DROP\nCOMMIT\n", textPlain, 400, "body", "line 3"},
		{"missing commit", "format=iptables", "*filter\n:FORWARD DROP [0:0]\n", textPlain, 400, "body", "COMMIT"},
		{"undeclared chain", "format=iptables", "*filter\n-A NOPE -j DROP\nCOMMIT\n", textPlain, 400, "body", "line 2"},
		{"not nft json", "format=nftables", `{"nope": 1}`, "application/json", 400, "body", "nftables"},
		{"broken json", "format=nftables", `{"nftables": [`, "application/json", 400, "body", "nft -j"},
		{"unknown chain", "format=iptables&chain=NOPE", good, textPlain, 400, "query.chain", "no filter table"},
		{"unknown format", "format=pf", good, textPlain, 400, "query.format", ""},
		{"missing format", "", good, textPlain, 400, "query.format", ""},
		{"bad apply", "format=iptables&apply=maybe", good, textPlain, 400, "query.apply", ""},
		{"empty body", "format=iptables", "", textPlain, 400, "body", "empty"},
		{"json for iptables", "format=iptables", good, "application/json", 415, "header.Content-Type", "text/plain"},
		{"text for nftables", "format=nftables", importFixture(t, "mixed.nft.json"), textPlain, 415, "header.Content-Type", "application/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := s.do(http.MethodPost, importURL(fwID, c.query), c.body, "Content-Type", c.contentType)
			assertProblem(t, res, c.status, c.location, c.msg)
		})
	}
	t.Run("unknown firewall", func(t *testing.T) {
		res := s.do(http.MethodPost, importURL("01936f8e-0000-7000-8000-000000000000", "format=iptables"), good, "Content-Type", textPlain)
		assertProblem(t, res, http.StatusNotFound, "", "")
	})
	t.Run("nothing was written", func(t *testing.T) {
		if items := s.must(http.StatusOK, http.MethodGet, "/api/v1/firewalls/"+fwID+"/filtering-policies", nil)["items"].([]any); len(items) != 0 {
			t.Fatalf("bad imports created policies: %v", items)
		}
	})
}

func TestImportNeedsEditor(t *testing.T) {
	s := newTestServer(t)
	fwID := s.newFirewall("roles")
	body := importFixture(t, "mixed.iptables")
	cases := []struct {
		name   string
		token  string
		status int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"viewer", mintToken(t, "v", auth.Viewer), http.StatusForbidden},
		{"editor", mintToken(t, "e", auth.Editor), http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			auth := ""
			if c.token != "" {
				auth = "Bearer " + c.token
			}
			res := s.do(http.MethodPost, importURL(fwID, "format=iptables"), body, "Content-Type", textPlain, "Authorization", auth)
			if res.Status != c.status {
				t.Fatalf("status %d, want %d: %s", res.Status, c.status, res.Body)
			}
		})
	}
}
