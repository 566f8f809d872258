package obs

import (
	"fmt"
	"strconv"
	"time"

	"github.com/getsentry/sentry-go"
)

// Reporter sends panics and 5xx answers to Sentry. A nil *Reporter, which
// NewReporter returns when no DSN is set, reports nothing.
type Reporter struct {
	client *sentry.Client
}

// RequestReport identifies the request an error report is about. It holds
// no headers, body or query, which could carry tokens or secrets.
type RequestReport struct {
	Method    string
	Route     string
	Status    int
	RequestID string
	TraceID   string
}

// NewReporter returns a Reporter for dsn, or nil when dsn is "". release
// and environment tag every event.
func NewReporter(dsn, release, environment string) (*Reporter, error) {
	if dsn == "" {
		return nil, nil
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:              dsn,
		Release:          release,
		Environment:      environment,
		AttachStacktrace: true,
		BeforeSend:       scrub,
	})
	if err != nil {
		return nil, fmt.Errorf("configure Sentry: %w", err)
	}
	return &Reporter{client: client}, nil
}

// scrub drops everything an integration might have attached about the
// request or the user: FireFlow's events say which route and request
// failed, and the logs hold the rest under the same request id.
func scrub(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
	ev.Request = nil
	ev.User = sentry.User{}
	ev.Breadcrumbs = nil
	return ev
}

// Panic reports a panic recovered while serving req, with the stack of the
// calling goroutine, so call it from the deferred recover.
func (r *Reporter) Panic(req RequestReport, value any) {
	if r == nil {
		return
	}
	r.hub(req).Recover(value)
}

// ServerError reports a 5xx answer that was not a panic.
func (r *Reporter) ServerError(req RequestReport) {
	if r == nil {
		return
	}
	hub := r.hub(req)
	hub.Scope().SetLevel(sentry.LevelError)
	hub.CaptureMessage(fmt.Sprintf("%s %s answered %d", req.Method, req.Route, req.Status))
}

func (r *Reporter) hub(req RequestReport) *sentry.Hub {
	scope := sentry.NewScope()
	scope.SetTags(map[string]string{
		"route":       req.Route,
		"method":      req.Method,
		"status_code": strconv.Itoa(req.Status),
		"request_id":  req.RequestID,
	})
	if req.TraceID != "" {
		scope.SetTag("trace_id", req.TraceID)
	}
	return sentry.NewHub(r.client, scope)
}

// Flush waits up to timeout for queued events to be sent.
func (r *Reporter) Flush(timeout time.Duration) {
	if r == nil {
		return
	}
	r.client.Flush(timeout)
}
