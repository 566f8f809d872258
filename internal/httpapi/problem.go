package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type      string          `json:"type" doc:"A URI that identifies the kind of problem." example:"urn:fireflow:problem:invalid"`
	Title     string          `json:"title" doc:"A short summary of the kind of problem." example:"Bad Request"`
	Status    int             `json:"status" doc:"The HTTP status code." example:"400"`
	Detail    string          `json:"detail" doc:"What went wrong in this occurrence." example:"the rule is not valid"`
	Errors    []ProblemDetail `json:"errors,omitempty" doc:"One entry for each problem with a field, parameter or header."`
	RequestID string          `json:"request_id" doc:"The request's id; the server logs carry the same id." example:"0f9c2a4e1b7d3c55"`
	TraceID   string          `json:"trace_id,omitempty" doc:"The request's W3C trace id, when tracing is on; the logs and the trace carry the same id." example:"4bf92f3577b34da6a3ce929d0e0e4736"`
}

// ProblemDetail is one problem with one part of the request.
type ProblemDetail struct {
	Location string `json:"location" doc:"Where the problem is: body.<field>, path.<param>, query.<param> or header.<name>." example:"body.sources[2]"`
	Message  string `json:"message" doc:"What is wrong, in words a person understands." example:"10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"`
	Value    any    `json:"value,omitempty" doc:"The offending value, when there is one."`
}

// Problem is the error type huma writes with its status.
var _ huma.StatusError = (*Problem)(nil)

// Error returns the problem's detail.
func (p *Problem) Error() string { return p.Detail }

// GetStatus returns the HTTP status, so that huma writes it.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// problemTypes names each status's problem type.
var problemTypes = map[int]string{
	http.StatusBadRequest:            "invalid",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusNotAcceptable:         "not-acceptable",
	http.StatusConflict:              "conflict",
	http.StatusPreconditionFailed:    "precondition-failed",
	http.StatusRequestEntityTooLarge: "payload-too-large",
	http.StatusUnsupportedMediaType:  "unsupported-media-type",
	http.StatusUnprocessableEntity:   "idempotency-key-reused",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

func newProblem(ctx context.Context, status int, detail string, details ...ProblemDetail) *Problem {
	kind, ok := problemTypes[status]
	if !ok {
		kind = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "-"))
	}
	return &Problem{
		Type:      "urn:fireflow:problem:" + kind,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Errors:    details,
		RequestID: requestID(ctx),
		TraceID:   traceID(ctx),
	}
}

// strictFieldCasing makes huma match field names case-sensitively, so
// that {"NAME": ...} is an unknown field rather than a second spelling of
// name. huma v2 offers this only as a package-level switch, with no
// per-API setting; it holds no state, and FireFlow wants it on for every
// API, so it is set once per process. It is the only huma global
// FireFlow touches: errors are made per API instance, below.
var strictFieldCasing = sync.OnceFunc(func() { huma.ValidateStrictCasing = true })

// problemOfHumaError is a per-API response transformer: it turns the
// errors huma builds itself (bad parameters, bad JSON, oversized bodies,
// WriteErr) into FireFlow problems with the request id, instead of
// overriding huma.NewError for the whole process.
func problemOfHumaError(hctx huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	errs := make([]error, 0, len(em.Errors))
	for _, d := range em.Errors {
		if d != nil {
			errs = append(errs, d)
		}
	}
	p := humaProblem(hctx.Context(), em.Status, em.Detail, errs)
	if p.Status != em.Status {
		infoFrom(hctx.Context()).problemStatus = p.Status
	}
	return p, nil
}

// problemStatus is the huma middleware that lets problemOfHumaError
// change the status of an error huma is writing: huma picks the status
// before it transforms the body.
func problemStatus(ctx huma.Context, next func(huma.Context)) {
	next(statusContext{ctx})
}

// humaContext lets statusContext embed huma.Context, whose method
// Context would clash with a field of that name.
type humaContext = huma.Context

// statusContext sends the status problemOfHumaError chose, if any.
type statusContext struct{ humaContext }

// SetStatus sends code, or the status problemOfHumaError chose instead.
func (c statusContext) SetStatus(code int) {
	if s := infoFrom(c.Context()).problemStatus; s != 0 {
		code = s
	}
	c.humaContext.SetStatus(code)
}

// humaProblem builds the problem of an error huma or the evaluate
// decoder found in a request.
func humaProblem(ctx context.Context, status int, msg string, errs []error) *Problem {
	// huma answers schema violations with 422; FireFlow keeps 422 for a
	// reused idempotency key and answers every malformed input with 400.
	switch {
	case status == http.StatusUnsupportedMediaType:
		msg = "the request body must be JSON: send Content-Type: application/json"
	case status == http.StatusRequestEntityTooLarge:
		msg = "the request body is too large: this endpoint accepts 1 MiB unless its documentation says otherwise"
	case status == http.StatusUnprocessableEntity, msg == "validation failed":
		status, msg = http.StatusBadRequest, "the request is not valid"
	}
	details := make([]ProblemDetail, 0, len(errs))
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			ed := d.ErrorDetail()
			details = append(details, humaDetail(ed))
			continue
		}
		details = append(details, ProblemDetail{Message: err.Error()})
	}
	return newProblem(ctx, status, msg, details...)
}

// maxEchoedValue bounds how much of a bad value a problem echoes back.
const maxEchoedValue = 200

// humaDetail rewords huma's field errors where they would confuse: an
// unknown field would otherwise echo its whole parent object.
func humaDetail(ed *huma.ErrorDetail) ProblemDetail {
	d := ProblemDetail{Location: ed.Location, Message: ed.Message, Value: ed.Value}
	if ed.Message == "unexpected property" {
		d.Message, d.Value = "unknown field; the schema at /openapi.json lists the fields", nil
	}
	switch v := d.Value.(type) {
	case string:
		if len(v) > maxEchoedValue {
			d.Value = v[:maxEchoedValue] + "…"
		}
	case map[string]any, []any:
		d.Value = nil // a whole object or list would bury the message
	}
	return d
}

// statusOf maps domain error codes to HTTP statuses.
var statusOf = map[firewall.Code]int{
	firewall.CodeInvalid:             http.StatusBadRequest,
	firewall.CodeNotFound:            http.StatusNotFound,
	firewall.CodeConflict:            http.StatusConflict,
	firewall.CodePreconditionFailed:  http.StatusPreconditionFailed,
	firewall.CodeIdempotencyMismatch: http.StatusUnprocessableEntity,
	firewall.CodeUnavailable:         http.StatusServiceUnavailable,
	firewall.CodeUnprocessable:       http.StatusUnprocessableEntity,
}

// toProblem turns a handler's error into a problem; a *Problem passes
// through. Errors without a domain
// code are internal: the client sees only the request id, and the log
// holds the error under the same id.
func (a *api) toProblem(ctx context.Context, err error) error {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var de *firewall.Error
	if !errors.As(err, &de) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			a.log.WarnContext(ctx, "request ended before the store answered", "request_id", requestID(ctx), "error", err)
			return newProblem(ctx, http.StatusServiceUnavailable, "the request timed out; retry later")
		}
		a.log.ErrorContext(ctx, "internal error", "request_id", requestID(ctx), "error", err)
		return newProblem(ctx, http.StatusInternalServerError, "an internal error occurred; quote the request_id when reporting it")
	}
	status := statusOf[de.Code]
	if de.Code == firewall.CodeUnavailable {
		a.log.WarnContext(ctx, "store unavailable", "request_id", requestID(ctx), "error", err)
	}
	details := make([]ProblemDetail, len(de.Problems))
	for i, p := range de.Problems {
		details[i] = ProblemDetail{Location: bodyLocation(p.Location), Message: p.Message, Value: p.Value}
	}
	return newProblem(ctx, status, de.Message, details...)
}

// inQuery returns err with the locations of its field problems that name
// query parameters (every one, when names is empty) moved under "query.",
// so that toProblem names them as parameters, not body fields.
func inQuery(err error, names ...string) error {
	var de *firewall.Error
	if !errors.As(err, &de) {
		return err
	}
	moved := *de
	moved.Problems = slices.Clone(de.Problems)
	for i, p := range moved.Problems {
		if len(names) == 0 || slices.Contains(names, p.Location) {
			moved.Problems[i].Location = "query." + p.Location
		}
	}
	return &moved
}

// bodyLocation prefixes a domain field path with "body.", except for the
// few locations that name a query parameter.
func bodyLocation(loc string) string {
	switch loc {
	case "":
		return "body"
	case "page_token", "filter", "order_by":
		return "query." + loc
	}
	switch {
	case strings.HasPrefix(loc, "tree."), strings.HasPrefix(loc, "query."), strings.HasPrefix(loc, "path."):
		return loc // already names where it is
	default:
		return "body." + loc
	}
}
