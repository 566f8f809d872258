// Package webui serves FireFlow's web console: plain ES modules, HTML and
// CSS embedded in the binary, with headers that let the browser run
// nothing but them.
package webui

import (
	"compress/gzip"
	"embed"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the path the console is served under.
const Prefix = "/ui/"

// ContentSecurityPolicy lets the page load only its own scripts, styles
// and images, talk only to its own origin, and be framed by no one: no
// inline script or style and no eval, so that a name that slipped through
// as markup could still not run.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Assets returns the console's files, rooted at the directory served as
// Prefix.
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("webui: no static directory: " + err.Error()) // the embed directive guarantees it
	}
	return sub
}

// Handler serves the console's files under Prefix, with the security
// headers on every answer, a 404 included. Text assets are gzipped when
// the client accepts it, to keep the first page small.
func Handler() http.Handler {
	assets := Assets()
	files := http.FileServerFS(assets)
	return http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if compressible(r.URL.Path) {
			w.Header().Add("Vary", "Accept-Encoding")
			if acceptsGzip(r) && serveGzip(w, r, assets) {
				return
			}
		}
		files.ServeHTTP(w, r)
	}))
}

// setSecurityHeaders sets what every answer of the console carries. The
// assets are not versioned, so browsers revalidate them on each load.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(coding) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func compressible(p string) bool {
	switch path.Ext(p) {
	case ".html", ".css", ".js":
		return true
	}
	return p == "/" || strings.HasSuffix(p, "/")
}

// contentTypes are the types of the compressible files; FileServer would
// guess them, but gzip hides the content from its sniffing.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

// serveGzip writes the file at r's path gzipped and reports whether it
// did; directories other than the root and missing files are left to
// FileServer.
func serveGzip(w http.ResponseWriter, r *http.Request, assets fs.FS) bool {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	}
	f, err := assets.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.IsDir() {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", contentTypes[path.Ext(name)])
	h.Set("Content-Encoding", "gzip")
	if r.Method == http.MethodHead {
		return true
	}
	zw := gzip.NewWriter(w)
	if _, err := io.Copy(zw, f); err != nil {
		return true // the client went away; the status is already sent
	}
	_ = zw.Close()
	return true
}
