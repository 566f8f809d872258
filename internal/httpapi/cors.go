package httpapi

import (
	"net/http"
	"slices"
)

// CORS answers. Requests carry the bearer token in the Authorization
// header, never in a cookie, so the API never allows credentials: a
// wildcard origin is then safe, and an explicit list is never paired with
// Access-Control-Allow-Credentials either.
const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE"
	corsHeaders = "Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, X-Request-ID, Traceparent, Tracestate"
	// corsExposed are the response headers a script may read beyond the
	// CORS-safelisted ones.
	corsExposed = "ETag, Location, Retry-After, RateLimit, RateLimit-Policy, X-Request-ID, Idempotent-Replayed"
	// corsMaxAge lets a browser reuse a preflight answer for 10 minutes.
	corsMaxAge = "600"
)

// withCORS lets browsers on the listed origins call the API. With no
// origins it returns next unchanged: CORS is off, and a cross-origin
// browser request fails in the browser as it should. A preflight from an
// allowed origin is answered here with 204; one from another origin goes
// on to the API, which answers it as any OPTIONS request (405), without
// CORS headers.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(origins, "*")
	allowed := func(origin string) bool { return anyOrigin || slices.Contains(origins, origin) }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if !anyOrigin {
			// The answer depends on the origin: caches must key on it.
			h.Add("Vary", "Origin")
		}
		if origin == "" || !allowed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		allowOrigin := origin
		if anyOrigin {
			allowOrigin = "*"
		}
		h.Set("Access-Control-Allow-Origin", allowOrigin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Expose-Headers", corsExposed)
		next.ServeHTTP(w, r)
	})
}
