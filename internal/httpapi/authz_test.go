package httpapi

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
)

// roleBelow is the highest role that is not enough for need.
func roleBelow(need auth.Role) auth.Role {
	switch need {
	case auth.Admin:
		return auth.Editor
	case auth.Editor:
		return auth.Viewer
	default:
		return "" // a token with no FireFlow role at all
	}
}

// TestEveryOperationNeedsItsRole walks the OpenAPI document: every /api/v1
// operation answers 401 without a token and 403 with a role one step too
// low, and every other operation stays public. A route registered without
// a role fails here (and at registration).
func TestEveryOperationNeedsItsRole(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge")
	ruleID := s.newRule(tr, nil)
	fill := strings.NewReplacer("{firewall_id}", tr.FirewallID, "{policy_id}", tr.PolicyID, "{rule_id}", ruleID)

	checked := 0
	for key, op := range operations(s.api.OpenAPI()) {
		method, path, _ := strings.Cut(key, " ")
		url := fill.Replace(path)
		need, _ := op.Metadata[roleKey].(auth.Role)
		t.Run(key, func(t *testing.T) {
			if !strings.HasPrefix(path, "/api/") {
				if need != "" || len(op.Security) > 0 {
					t.Fatalf("public operation %s declares a role or security", key)
				}
				if res := s.do(method, url, nil, "Authorization", ""); res.Status != http.StatusOK {
					t.Fatalf("public %s without a token: %d %s", key, res.Status, res.Body)
				}
				return
			}
			if need == "" {
				t.Fatalf("%s needs no role", key)
			}
			if len(op.Security) != 1 || op.Security[0][bearerScheme] == nil {
				t.Fatalf("%s does not declare the bearer scheme: %v", key, op.Security)
			}
			res := s.do(method, url, nil, "Authorization", "")
			assertProblem(t, res, http.StatusUnauthorized, "", "")
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("401 without WWW-Authenticate: Bearer: %v", res.Header)
			}
			low := mintToken(t, "low", roleBelow(need))
			assertProblem(t, s.do(method, url, nil, "Authorization", "Bearer "+low), http.StatusForbidden, "", "")
			checked++
		})
	}
	if checked < 17 {
		t.Fatalf("checked only %d protected operations", checked)
	}
}

// TestAttackTokensAnswer401 sends hostile tokens over HTTP: each is a 401
// problem with a Bearer challenge, never a 500, and never echoes the token.
func TestAttackTokensAnswer401(t *testing.T) {
	s := newTestServer(t)
	b64 := base64.RawURLEncoding.EncodeToString
	good := mintToken(t, "alice", auth.Admin)
	parts := strings.Split(good, ".")
	expired, err := auth.Mint(testSecret, "alice", []string{"admin"}, time.Minute, "", "", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.Mint([]byte("another-secret-0123456789abcdef-xyz"), "alice", []string{"admin"}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, header string }{
		{"alg none", "Bearer " + b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."},
		{"expired", "Bearer " + expired},
		{"signed with another secret", "Bearer " + other},
		{"tampered payload", "Bearer " + parts[0] + "." + b64([]byte(`{"sub":"mallory","roles":["admin"],"exp":9999999999}`)) + "." + parts[2]},
		{"bad signature", "Bearer " + parts[0] + "." + parts[1] + "." + b64([]byte("not the signature"))},
		{"roles of the wrong type", "Bearer " + parts[0] + "." + b64([]byte(`{"sub":"a","roles":"admin","exp":9999999999}`)) + "." + parts[2]},
		{"over 8 KB", "Bearer " + strings.Repeat("a", 9000)},
		{"one segment", "Bearer abc"},
		{"garbage segments", "Bearer a.b.c"},
		{"empty bearer", "Bearer "},
		{"basic scheme", "Basic " + b64([]byte("admin:admin"))},
		{"token without scheme", good},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.do("GET", firewallsPath, nil, "Authorization", tt.header)
			assertProblem(t, res, http.StatusUnauthorized, "", "")
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("no Bearer challenge: %v", res.Header)
			}
			if token := strings.TrimPrefix(tt.header, "Bearer "); len(token) > 8 && strings.Contains(string(res.Body), token) {
				t.Fatal("the problem echoes the token")
			}
		})
	}
}

func TestRolesGrantWhatTheySay(t *testing.T) {
	s := newTestServer(t)
	viewer := "Bearer " + mintToken(t, "vic", auth.Viewer)
	editor := "Bearer " + mintToken(t, "eve", auth.Editor)
	if res := s.do("POST", firewallsPath, map[string]any{"name": "a"}, "Authorization", viewer); res.Status != http.StatusForbidden {
		t.Fatalf("viewer create: %d", res.Status)
	}
	if res := s.do("POST", firewallsPath, map[string]any{"name": "a"}, "Authorization", editor); res.Status != http.StatusCreated {
		t.Fatalf("editor create: %d %s", res.Status, res.Body)
	}
	if res := s.do("GET", firewallsPath, nil, "Authorization", viewer); res.Status != http.StatusOK {
		t.Fatalf("viewer list: %d", res.Status)
	}
	if res := s.do("GET", "/api/v1/audit-events", nil, "Authorization", editor); res.Status != http.StatusForbidden {
		t.Fatalf("editor reads the audit log: %d", res.Status)
	}
}
