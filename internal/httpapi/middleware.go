package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

type requestInfoKey struct{}

// requestInfo is what the middleware learns about a request, for the
// access log and the problem bodies.
type requestInfo struct {
	id      string
	subject string // the caller's sub, once authenticated
	// problemStatus, when set, replaces the status huma chose for an
	// error it writes (see problemOfHumaError).
	problemStatus int
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	if info == nil {
		return &requestInfo{}
	}
	return info
}

// requestID returns the request id stored in ctx, or "".
func requestID(ctx context.Context) string { return infoFrom(ctx).id }

// setSubject records the authenticated caller for the access log.
func setSubject(ctx context.Context, sub string) { infoFrom(ctx).subject = sub }

// validRequestID accepts a caller's X-Request-ID only if it is short and
// plain, so that it cannot inject anything into logs or headers.
func validRequestID(id string) bool {
	return id != "" && len(id) <= 64 && isPlainToken(id)
}

// isPlainToken reports whether s holds only letters, digits, '-', '_' and
// '.': safe in a log line, a header and a JSON string without escaping.
func isPlainToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b[:])
}

// withRequestID gives every request an id, taken from X-Request-ID when
// the caller sent a sane one, and echoes it in the response.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, &requestInfo{id: id})))
	})
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withAccessLog writes one log line per request, tells the observer about
// it, and turns a panic into a 500 problem, so that one bad request cannot
// take the server down. The log line and the observer see the route
// pattern, never the raw path, and nothing of the headers or body.
func withAccessLog(log *slog.Logger, obs Observer, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		obs.RequestStarted()
		rec := &statusRecorder{ResponseWriter: w}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		defer func() {
			ctx := r.Context()
			v := recover()
			aborted := v == http.ErrAbortHandler
			if v != nil && !aborted {
				log.ErrorContext(ctx, "panic", "request_id", requestID(ctx), "panic", v, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, newProblem(ctx, http.StatusInternalServerError, "an internal error occurred; quote the request_id when reporting it"))
				}
			}
			info := infoFrom(ctx)
			status := rec.status
			if status == 0 {
				status = http.StatusOK // what net/http sends for a handler that wrote nothing
			}
			done := &RequestRecord{
				Method:        r.Method,
				Route:         routeOf(r.Pattern),
				Status:        status,
				ResponseBytes: rec.bytes,
				Duration:      time.Since(start),
				RequestID:     info.id,
				TraceID:       traceID(ctx),
			}
			if !aborted {
				done.Panic = v
			}
			if body != nil {
				done.RequestBytes = body.n
			}
			nameSpan(ctx, done.Method, done.Route)
			obs.RequestFinished(done)
			logRequest(ctx, log, done, info.subject)
			if aborted {
				panic(v)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequest writes the access log line of r. It builds the record itself
// rather than calling log.InfoContext, which boxes every argument and
// looks up its caller's program counter on every call, for a source
// location that the access log never shows.
func logRequest(ctx context.Context, log *slog.Logger, r *RequestRecord, subject string) {
	h := log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	rec.AddAttrs(
		slog.String("request_id", r.RequestID),
		slog.String("trace_id", r.TraceID),
		slog.String("sub", subject),
		slog.String("method", r.Method),
		slog.String("route", r.Route),
		slog.Int("status", r.Status),
		slog.Int64("duration_us", r.Duration.Microseconds()),
		slog.Int64("bytes", r.ResponseBytes),
	)
	_ = h.Handle(ctx, rec) // a log line that cannot be written must not fail the request
}

// writeProblem writes p outside huma, for requests no operation handles.
func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p) // the client may be gone; nothing to do then
}

// withProblemFallback answers requests that match no route (404) or match a
// route with another method (405) with a problem instead of plain text.
func withProblemFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &discardRecorder{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		status := rec.status
		if status != http.StatusMethodNotAllowed {
			status = http.StatusNotFound
		}
		detail := "no such resource: " + r.URL.Path
		if status == http.StatusMethodNotAllowed {
			detail = r.Method + " is not allowed here; allowed: " + rec.header.Get("Allow")
		}
		writeProblem(w, newProblem(r.Context(), status, detail))
	})
}

// discardRecorder captures what ServeMux would answer for an unmatched request.
type discardRecorder struct {
	header http.Header
	status int
}

func (d *discardRecorder) Header() http.Header         { return d.header }
func (d *discardRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardRecorder) WriteHeader(code int)        { d.status = code }
