package webui_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/webui"
)

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET "+webui.Prefix, webui.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestHeaders checks that every answer under /ui/, a 404 included, carries
// the security headers and no cookie.
func TestHeaders(t *testing.T) {
	srv := serve(t)
	want := map[string]string{
		"Content-Security-Policy": webui.ContentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/ui/", "text/html; charset=utf-8", http.StatusOK},
		{"/ui/index.html", "text/html; charset=utf-8", http.StatusOK},
		{"/ui/js/core.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/ui/css/console.css", "text/css; charset=utf-8", http.StatusOK},
		{"/ui/nothing-here.js", "", http.StatusNotFound},
	} {
		t.Run(tc.path, func(t *testing.T) {
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			res, err := client.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			for k, v := range want {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if tc.ctype != "" && res.Header.Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", res.Header.Get("Content-Type"), tc.ctype)
			}
			if c := res.Header.Values("Set-Cookie"); len(c) != 0 {
				t.Errorf("sets cookies: %q", c)
			}
		})
	}
}

// TestCSPIsStrict checks the policy's parts one by one, so that a later
// loosening (an 'unsafe-inline', a CDN) is seen.
func TestCSPIsStrict(t *testing.T) {
	csp := webui.ContentSecurityPolicy
	for _, part := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
		"base-uri 'none'", "form-action 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, part+";") && !strings.HasSuffix(csp, part) {
			t.Errorf("the CSP lacks %q: %s", part, csp)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("the CSP allows %q: %s", bad, csp)
		}
	}
}

// TestGzip checks that a client that accepts gzip gets the same bytes,
// compressed, and one that does not gets them plain.
func TestGzip(t *testing.T) {
	srv := serve(t)
	plain := get(t, srv.URL+"/ui/js/core.js", "")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ui/js/core.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	res, err := http.DefaultTransport.RoundTrip(req) // the transport would decode it
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(unzipped) != plain {
		t.Fatal("the gzipped core.js differs from the plain one")
	}
}

func get(t *testing.T, url, enc string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if enc != "" {
		req.Header.Set("Accept-Encoding", enc)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// forbidden are the ways to turn text into markup or code; the console
// builds its DOM with createElement and textContent only. The CSP blocks
// most of them at run time as well; this catches them in review.
var forbidden = regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function|setTimeout\s*\(\s*['"]|\son[a-z]+\s*=\s*["']|\sstyle\s*=\s*["']|<script>|javascript:`)

// TestAssetsHaveNoMarkupSinks greps every embedded asset for forbidden.
func TestAssetsHaveNoMarkupSinks(t *testing.T) {
	n := 0
	err := fs.WalkDir(webui.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(webui.Assets(), p)
		if err != nil {
			return err
		}
		n++
		for i, line := range strings.Split(string(b), "\n") {
			if m := forbidden.FindString(line); m != "" {
				t.Errorf("%s:%d uses %q: %s", p, i+1, m, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("only %d assets embedded", n)
	}
}

var (
	htmlRefs   = regexp.MustCompile(`(?:src|href)="([^"#:]+)"`)
	importRefs = regexp.MustCompile(`(?m)^\s*import\s+(?:[^'"]*?\sfrom\s+)?'([^']+)'`)
)

// firstPage lists the files a browser fetches for the first page: the
// HTML, what it links, and the module graph from there.
func firstPage(t *testing.T) []string {
	t.Helper()
	assets := webui.Assets()
	seen := map[string]bool{"index.html": true}
	order := []string{"index.html"}
	var queue []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			order = append(order, p)
			queue = append(queue, p)
		}
	}
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range htmlRefs.FindAllStringSubmatch(string(index), -1) {
		add(m[1])
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if !strings.HasSuffix(p, ".js") {
			continue
		}
		src, err := fs.ReadFile(assets, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, m := range importRefs.FindAllStringSubmatch(string(src), -1) {
			add(path.Clean(path.Join(path.Dir(p), m[1])))
		}
	}
	return order
}

// TestFirstPageSize measures the bytes the first page (sign-in or the
// firewalls list: they load the same files) costs over the wire with gzip,
// and keeps it within the 200 KB. Headers and the API answers are
// extra; BenchmarkConsoleFirewallPage1000 in httpapi has Chromium's count.
func TestFirstPageSize(t *testing.T) {
	srv := serve(t)
	var plain, zipped int
	for _, p := range firstPage(t) {
		u := srv.URL + webui.Prefix + p
		if p == "index.html" {
			u = srv.URL + webui.Prefix
		}
		raw := get(t, u, "")
		gz := get(t, u, "gzip")
		plain += len(raw)
		zipped += len(gz)
		t.Logf("%-24s %6d bytes, %6d gzipped", p, len(raw), len(gz))
	}
	t.Logf("first page: %d files, %d bytes, %d bytes gzipped", len(firstPage(t)), plain, zipped)
	const budget = 200 * 1000
	if zipped > budget {
		t.Errorf("the first page transfers %d bytes gzipped, over the budget of %d", zipped, budget)
	}
}
