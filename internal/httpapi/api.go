// Package httpapi serves FireFlow's REST API: routes, handlers, OpenAPI,
// Swagger UI, middleware and the mapping of errors to problem details.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/swaggest/swgui/v5emb"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/webui"
)

// DefaultMaxBodyBytes limits request bodies unless Options says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Options configures the API.
type Options struct {
	// Version is reported by /health-check and the OpenAPI document.
	Version string
	// Logger receives access and error logs.
	Logger *slog.Logger
	// Ready reports whether the service can take traffic; /readyz calls it.
	Ready func(context.Context) error
	// MaxBodyBytes limits request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Auth verifies the bearer tokens of every /api/v1 operation. Required.
	Auth Authenticator
	// Observer receives each request's outcome, for metrics and error
	// reports; nil observes nothing.
	Observer Observer
	// TracerProvider, when set, gives every request a server span named by
	// its route, continuing a trace from the caller's W3C traceparent as
	// read by Propagator. Nil turns tracing off at no cost.
	TracerProvider trace.TracerProvider
	// Propagator reads the caller's trace context; nil means W3C
	// traceparent and tracestate.
	Propagator propagation.TextMapPropagator
	// RateLimit limits each caller of /api/v1; the zero value is off.
	RateLimit RateLimit
	// CORSOrigins enables CORS for these origins ("*" for any); nil is off.
	CORSOrigins []string

	// documentOnly builds the API only for its finished document.
	documentOnly bool
}

type api struct {
	svc      *service.Service
	log      *slog.Logger
	opts     Options
	humaAPI  huma.API
	problems *huma.Schema
	limiter  *limiter // nil when rate limiting is off
}

// New returns the HTTP handler of the whole API, documentation included.
func New(svc *service.Service, opts Options) http.Handler {
	h, _, _ := build(svc, opts)
	return h
}

// routeMux is a ServeMux that remembers the patterns registered on it, so
// that tests can compare the routes served with the OpenAPI document.
type routeMux struct {
	*http.ServeMux
	patterns []string
}

func (m *routeMux) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.HandleFunc(pattern, h)
}

func (m *routeMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.ServeMux.Handle(pattern, h)
}

// build returns the handler, the huma API and the registered route patterns.
func build(svc *service.Service, opts Options) (http.Handler, huma.API, []string) {
	strictFieldCasing()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.Ready == nil {
		opts.Ready = func(context.Context) error { return nil }
	}
	if opts.Auth == nil {
		panic("httpapi: Options.Auth is required; the API has no unauthenticated mode")
	}
	mux := &routeMux{ServeMux: http.NewServeMux()}
	a := &api{svc: svc, log: opts.Logger, opts: opts, humaAPI: humago.New(mux, humaConfig(opts.Version)), limiter: newLimiter(opts.RateLimit)}
	// problemStatus runs first, so that every error huma writes, the
	// token checks' included, can take FireFlow's status.
	a.humaAPI.UseMiddleware(problemStatus)
	documentPatchFields(a.humaAPI.OpenAPI().Components.Schemas)
	// huma's own errors are sent as Problem (problemOfHumaError), so
	// they are documented as Problem too.
	a.humaAPI.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[huma.ErrorModel](), reflect.TypeFor[Problem]())
	a.problems = a.humaAPI.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	declareBearerScheme(a.humaAPI.OpenAPI())
	a.humaAPI.UseMiddleware(a.authenticate)
	a.humaAPI.UseMiddleware(a.checkRequestBody)

	for _, r := range a.routes() {
		a.register(r)
	}
	if opts.documentOnly {
		a.finishDocument()
		return nil, a.humaAPI, nil
	}
	a.serveFinishedDocument(mux, svc, opts)

	swagger := v5emb.New("FireFlow API", "/openapi.json", "/docs/swagger-ui/")
	mux.Handle("GET /docs/swagger-ui/", swagger)
	mux.Handle("GET /docs/swagger-ui", http.RedirectHandler("/docs/swagger-ui/", http.StatusMovedPermanently))
	mux.Handle("GET "+webui.Prefix, webui.Handler())
	mux.Handle("GET /ui", http.RedirectHandler(webui.Prefix, http.StatusMovedPermanently))

	h := withRequestID(withAccessLog(opts.Logger, opts.Observer, withCORS(opts.CORSOrigins, withProblemFallback(mux.ServeMux))))
	if opts.TracerProvider != nil {
		if opts.Propagator == nil {
			opts.Propagator = propagation.TraceContext{}
		}
		h = otelhttp.NewHandler(h, "fireflow",
			otelhttp.WithTracerProvider(opts.TracerProvider), otelhttp.WithPropagators(opts.Propagator),
			otelhttp.WithFilter(notProbe))
	}
	return h, a.humaAPI, mux.patterns
}

func humaConfig(version string) huma.Config {
	cfg := huma.DefaultConfig("FireFlow API", version)
	cfg.Info.Description = "FireFlow manages firewall policy as data: firewalls hold ordered filtering policies, " +
		"and each policy holds ordered rules. Errors are RFC 9457 problem details."
	cfg.DocsPath = ""    // Swagger UI is served from embedded assets instead.
	cfg.SchemasPath = "" // every schema is inside the OpenAPI document.
	cfg.OpenAPIPath = "" // serveFinishedDocument serves it, finished.
	cfg.CreateHooks = nil
	cfg.RejectUnknownQueryParameters = true
	cfg.Transformers = append(cfg.Transformers, problemOfHumaError)
	return cfg
}

// errorDocs describes each error status the API answers with.
var errorDocs = map[int]string{
	http.StatusBadRequest:            "The request is malformed or breaks a rule of the model; `errors` names each field and what is wrong with it.",
	http.StatusUnauthorized:          "No bearer token, or one that is malformed, expired or not signed by a trusted key. The WWW-Authenticate header says Bearer.",
	http.StatusForbidden:             "The token is valid but its roles do not allow this operation.",
	http.StatusNotFound:              "The resource, or one of its parents, does not exist.",
	http.StatusConflict:              "A name or priority is already taken, or the resource still has children and cascade was not asked for.",
	http.StatusPreconditionFailed:    "If-Match named an etag that is no longer current: fetch the resource again and retry.",
	http.StatusGone:                  "The revision is no longer kept: retention pruned it, or it predates the history.",
	http.StatusRequestEntityTooLarge: "The request body is larger than the limit (1 MiB, or 4 MiB for evaluate).",
	http.StatusUnsupportedMediaType:  "The request body is not of a media type the operation takes (JSON), names a charset other than UTF-8, or has a Content-Encoding (the server decodes none).",
	http.StatusUnprocessableEntity:   "The Idempotency-Key was already used with a different request body.",
	http.StatusTooManyRequests:       "The caller (token subject, else client address) has used up its request quota; Retry-After says when to try again.",
	http.StatusInternalServerError:   "An unexpected error; the server log holds the details under the same request_id.",
	http.StatusServiceUnavailable:    "The database is unavailable; retry later.",
}

// operation fills in what every operation shares: the role it needs (""
// for a public one), its error responses, documented with the Problem
// schema, and the body size limit. Every /api/v1 operation needs a role.
func (a *api) operation(op huma.Operation, role auth.Role, errorCodes ...int) huma.Operation {
	op.Responses = map[string]*huma.Response{}
	codes := append([]int{http.StatusInternalServerError, http.StatusServiceUnavailable}, errorCodes...)
	switch {
	case role != "":
		requireRole(&op, role)
		codes = append(codes, http.StatusUnauthorized, http.StatusForbidden)
	case strings.HasPrefix(op.Path, "/api/"):
		panic("httpapi: operation " + op.OperationID + " has no role; every /api/v1 operation needs one")
	}
	for _, code := range codes {
		op.Responses[strconv.Itoa(code)] = &huma.Response{
			Description: errorDocs[code],
			Content:     map[string]*huma.MediaType{"application/problem+json": {Schema: a.problems}},
		}
	}
	op.MaxBodyBytes = bodyLimit(a.opts.MaxBodyBytes)
	return op
}

// bodyLimit is huma's MaxBodyBytes for a documented limit of n bytes: huma
// refuses a body that reaches its limit, so one byte more lets a body of
// exactly n through.
func bodyLimit(n int64) int64 { return n + 1 }
