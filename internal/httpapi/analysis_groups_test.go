package httpapi

import (
	"fmt"
	"net/http"
	"testing"
)

// TestAnalysisFindingGroups checks that a finding about a rule written
// against groups names them, with the field and both id and name.
func TestAnalysisFindingGroups(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { analysisFindingGroups(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { analysisFindingGroups(t, newPostgresTestServer(t)) })
}

func analysisFindingGroups(t *testing.T, s *testServer) {
	web := s.must(http.StatusCreated, "POST", "/api/v1/address-groups", map[string]any{"name": "web", "addresses": []string{"10.1.0.0/24"}})["id"]
	https := s.must(http.StatusCreated, "POST", "/api/v1/service-groups", map[string]any{"name": "https", "services": []map[string]any{{"protocol": "tcp", "ports": []string{"443"}}}})["id"]
	tr := s.newTree("edge")
	s.newRule(tr, map[string]any{"action": "deny", "sources": []string{"10.0.0.0/8"}})
	shadowed := s.newRule(tr, map[string]any{"action": "allow", "source_groups": []string{"web"}, "service_groups": []string{"https"}})
	plain := s.newRule(tr, map[string]any{"action": "allow", "sources": []string{"10.2.0.0/16"}})

	rep := s.must(http.StatusOK, "GET", tr.analysis()+"?kinds=unreachable", nil)
	byRule := map[string]map[string]any{}
	for _, f := range rep["findings"].([]any) {
		f := f.(map[string]any)
		byRule[fmt.Sprint(f["rule_id"])] = f
	}
	f, ok := byRule[shadowed]
	if !ok {
		t.Fatalf("no unreachable finding for the grouped rule %s: %v", shadowed, rep["findings"])
	}
	want := fmt.Sprintf("[map[field:source id:%s name:web] map[field:service id:%s name:https]]", web, https)
	if got := fmt.Sprint(f["groups"]); got != want {
		t.Fatalf("finding groups = %s, want %s", got, want)
	}
	if p, ok := byRule[plain]; !ok {
		t.Fatalf("no unreachable finding for the plain rule %s", plain)
	} else if _, has := p["groups"]; has {
		t.Fatalf("a rule without groups has groups in its finding: %v", p)
	}
}
