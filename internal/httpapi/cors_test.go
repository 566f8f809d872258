package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/auth"
)

// preflight sends a CORS preflight for a PATCH with the headers a browser
// client of the API asks for.
func preflight(t *testing.T, url, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodPatch)
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,if-match,idempotency-key")
	res, err := clientFrom("127.0.0.1").Do(req)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	res.Body.Close()
	return res
}

// listOf splits a comma-separated header into its lower-cased members.
func listOf(h string) []string {
	var out []string
	for part := range strings.SplitSeq(h, ",") {
		out = append(out, strings.ToLower(strings.TrimSpace(part)))
	}
	return out
}

// TestCORS checks over real HTTP that CORS is off by default, that listed
// origins get their preflights answered and the headers they may read
// exposed, that other origins get nothing, and that no answer ever allows
// credentials, with a wildcard or without.
func TestCORS(t *testing.T) {
	const ui = "https://ui.example.com"
	tok := mintToken(t, "alice", auth.Viewer)
	tests := []struct {
		name    string
		origins []string
		origin  string
		want    string // Access-Control-Allow-Origin, "" for none
	}{
		{name: "off by default", origin: ui},
		{name: "listed origin", origins: []string{ui, "http://localhost:3000"}, origin: ui, want: ui},
		{name: "second listed origin", origins: []string{ui, "http://localhost:3000"}, origin: "http://localhost:3000", want: "http://localhost:3000"},
		{name: "unlisted origin", origins: []string{ui}, origin: "https://evil.example.com"},
		{name: "look-alike origin", origins: []string{ui}, origin: ui + ".evil.example.com"},
		{name: "wildcard", origins: []string{"*"}, origin: "https://anywhere.example.org", want: "*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := newOptionsServer(t, Options{CORSOrigins: tt.origins, RateLimit: RateLimit{Rate: 100, Burst: 100}})
			url := base + "/api/v1/firewalls/0190b3c4-0000-7000-8000-000000000000"

			pre := preflight(t, url, tt.origin)
			res, body := get(t, clientFrom("127.0.0.1"), base+"/api/v1/firewalls", tok, "Origin", tt.origin)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET with Origin: %d %s", res.StatusCode, body)
			}
			for _, r := range []*http.Response{pre, res} {
				if got := r.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", r.Request.Method, got, tt.want)
				}
				if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "" {
					t.Errorf("%s: Access-Control-Allow-Credentials %q: the API never allows credentials", r.Request.Method, got)
				}
			}
			if tt.want == "" {
				if pre.StatusCode == http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Methods") != "" {
					t.Errorf("preflight from a refused origin: %d, Allow-Methods %q; want no CORS answer",
						pre.StatusCode, pre.Header.Get("Access-Control-Allow-Methods"))
				}
				return
			}
			if pre.StatusCode != http.StatusNoContent {
				t.Errorf("preflight: %d, want 204", pre.StatusCode)
			}
			if !slices.Contains(listOf(pre.Header.Get("Access-Control-Allow-Methods")), "patch") {
				t.Errorf("Access-Control-Allow-Methods %q lacks PATCH", pre.Header.Get("Access-Control-Allow-Methods"))
			}
			allowed := listOf(pre.Header.Get("Access-Control-Allow-Headers"))
			for _, h := range []string{"authorization", "content-type", "if-match", "idempotency-key"} {
				if !slices.Contains(allowed, h) {
					t.Errorf("Access-Control-Allow-Headers %q lacks %s", pre.Header.Get("Access-Control-Allow-Headers"), h)
				}
			}
			exposed := listOf(res.Header.Get("Access-Control-Expose-Headers"))
			for _, h := range []string{"etag", "location", "ratelimit", "ratelimit-policy", "retry-after"} {
				if !slices.Contains(exposed, h) {
					t.Errorf("Access-Control-Expose-Headers %q lacks %s", res.Header.Get("Access-Control-Expose-Headers"), h)
				}
			}
			if tt.want != "*" && !slices.Contains(res.Header.Values("Vary"), "Origin") {
				t.Errorf("Vary %q lacks Origin: a cache could serve one origin's answer to another", res.Header.Values("Vary"))
			}
		})
	}
}
