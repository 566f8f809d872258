package httpapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// unmatchedRoute is the route of requests that match no route pattern, so
// that probes of random paths cannot create metric series or log noise.
const unmatchedRoute = "unmatched"

// RequestRecord is what the middleware learned about one answered request.
// It holds nothing from headers, query or body, so that a token or secret
// cannot reach a metric or an error report through it.
type RequestRecord struct {
	Method string
	// Route is the route pattern without its method, such as
	// /api/v1/firewalls/{firewall_id}, or "unmatched"; never the raw path.
	Route         string
	Status        int
	RequestBytes  int64
	ResponseBytes int64
	Duration      time.Duration
	RequestID     string
	// TraceID is the request's trace, or "" when tracing is off.
	TraceID string
	// Panic is the value a handler panicked with, recovered into a 500; nil
	// if it did not panic. RequestFinished runs inside the deferred recover,
	// so a stack taken there shows where the panic happened.
	Panic any
}

// Observer receives what the API observes, for metrics and error reports.
type Observer interface {
	// RequestStarted is called as a request comes in, and RequestFinished
	// once it is answered, exactly once each per request.
	RequestStarted()
	RequestFinished(r *RequestRecord)
	// AuthFailed counts a request refused for reason: an auth.Reason,
	// "unverifiable" or "forbidden" (a valid token without the role).
	AuthFailed(reason string)
	// RateLimited counts a request refused with 429; by is "subject" or
	// "address", what the caller was told apart by.
	RateLimited(by string)
	// Evaluated records an evaluate request: flows decided, time taken.
	Evaluated(flows int, elapsed time.Duration)
}

type nopObserver struct{}

func (nopObserver) RequestStarted()                {}
func (nopObserver) RequestFinished(*RequestRecord) {}
func (nopObserver) AuthFailed(string)              {}
func (nopObserver) RateLimited(string)             {}
func (nopObserver) Evaluated(int, time.Duration)   {}

// routeOf turns a ServeMux pattern ("GET /api/v1/firewalls/{firewall_id}")
// into the route label: the path pattern, or unmatchedRoute.
func routeOf(pattern string) string {
	if pattern == "" {
		return unmatchedRoute
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// notProbe keeps the health probes out of traces: an orchestrator calls
// them every few seconds, and their spans would bury the real requests.
func notProbe(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/health-check":
		return false
	}
	return true
}

// traceID returns the trace id of ctx's span, or "" when there is none.
func traceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// nameSpan names the server span by its route once routing has found it:
// the tracing middleware runs before the mux and sees only the raw path.
func nameSpan(ctx context.Context, method, route string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() || route == unmatchedRoute {
		return
	}
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.route", route))
}

// countingBody counts the bytes a handler reads of a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}
