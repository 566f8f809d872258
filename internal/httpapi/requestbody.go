package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// ownBodyKey marks, in an operation's metadata, an operation that reads
// its body itself (evaluate, import): checkRequestBody checks only its
// headers, and the handler checks the body.
const ownBodyKey = "fireflow.ownBody"

// ownsBody marks op as reading its body itself.
func ownsBody(op *huma.Operation) {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[ownBodyKey] = true
}

// checkRequestBody is the huma middleware every operation with a request
// body passes before huma reads it. It answers at once, from the headers,
// a body too large (even under Expect: 100-continue, so that the client
// sends nothing), compressed or not JSON; then it reads the body once and
// checks it with checkJSONBody. The body and Content-Type huma then sees
// are the checked ones: a missing or oddly written JSON media type reads
// as application/json, the same on every operation.
func (a *api) checkRequestBody(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	if op.RequestBody == nil || len(op.RequestBody.Content) == 0 {
		next(ctx)
		return
	}
	own, _ := op.Metadata[ownBodyKey].(bool)
	if p := checkBodyHeaders(ctx, op); p != nil {
		a.writeHumaProblem(ctx, p)
		return
	}
	if own {
		next(checkedBody{humaContext: ctx, contentType: jsonContentType(ctx.Header("Content-Type"))})
		return
	}
	body, p := readCheckedBody(ctx, op)
	if p != nil {
		a.writeHumaProblem(ctx, p)
		return
	}
	if len(body) > 0 {
		var problems []ProblemDetail
		body, problems = checkJSONBody(a.humaAPI.OpenAPI().Components.Schemas, bodySchema(op), body)
		if problems != nil {
			a.writeHumaProblem(ctx, newProblem(ctx.Context(), http.StatusBadRequest, "the request is not valid", problems...))
			return
		}
	}
	next(checkedBody{humaContext: ctx, body: body, replaced: true, contentType: "application/json"})
}

// checkBodyHeaders answers from the headers alone: 413 for a declared
// length over the limit, 415 for a Content-Encoding (the server decodes
// none), a charset other than UTF-8, or a media type the operation does
// not take (any JSON type for one that takes JSON).
func checkBodyHeaders(ctx huma.Context, op *huma.Operation) *Problem {
	rctx := ctx.Context()
	limit := op.MaxBodyBytes - 1 // see bodyLimit
	if n, err := strconv.ParseInt(ctx.Header("Content-Length"), 10, 64); err == nil && limit > 0 && n > limit {
		return newProblem(rctx, http.StatusRequestEntityTooLarge, tooLarge(limit),
			ProblemDetail{Location: "header.Content-Length", Message: fmt.Sprintf("the body would be %d bytes; at most %d are accepted", n, limit), Value: n})
	}
	if enc := strings.TrimSpace(ctx.Header("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
		return newProblem(rctx, http.StatusUnsupportedMediaType, "the server does not decode Content-Encoding "+enc+": send the body uncompressed",
			ProblemDetail{Location: "header.Content-Encoding", Message: "only identity (no encoding) is accepted", Value: enc})
	}
	ct := ctx.Header("Content-Type")
	if ct == "" {
		return nil
	}
	media, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return newProblem(rctx, http.StatusUnsupportedMediaType, "the Content-Type is not a media type",
			ProblemDetail{Location: "header.Content-Type", Message: "send Content-Type: application/json", Value: ct})
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return newProblem(rctx, http.StatusUnsupportedMediaType, "charset "+cs+" is not accepted: request bodies are UTF-8",
			ProblemDetail{Location: "header.Content-Type", Message: "send charset=utf-8 or no charset", Value: ct})
	}
	if _, listed := op.RequestBody.Content[media]; !listed && !(isJSONMedia(media) && bodySchema(op) != nil) {
		if _, text := op.RequestBody.Content["text/plain"]; text {
			return newProblem(rctx, http.StatusUnsupportedMediaType, "this endpoint takes text/plain or application/json",
				ProblemDetail{Location: "header.Content-Type", Message: "send Content-Type: text/plain or application/json", Value: ct})
		}
		return newProblem(rctx, http.StatusUnsupportedMediaType, "the request body must be JSON: send Content-Type: application/json",
			ProblemDetail{Location: "header.Content-Type", Message: "send Content-Type: application/json", Value: ct})
	}
	return nil
}

func tooLarge(limit int64) string {
	return fmt.Sprintf("the request body is too large: this endpoint accepts %s", byteSize(limit))
}

// byteSize writes n as the documentation does: 1 MiB, 4 MiB, 16 MiB.
func byteSize(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// isJSONMedia reports whether a parsed (lower-case) media type is JSON.
func isJSONMedia(media string) bool {
	return media == "application/json" || strings.HasSuffix(media, "+json")
}

// isJSON reports whether a Content-Type header names JSON, matched
// case-insensitively and with blanks around parameters allowed.
func isJSON(contentType string) bool {
	media, _, err := mime.ParseMediaType(contentType)
	return err == nil && isJSONMedia(media)
}

// jsonContentType is the Content-Type an operation that reads its own
// body sees: application/json for a missing or JSON media type, else the
// header as sent.
func jsonContentType(ct string) string {
	if ct == "" || isJSON(ct) {
		return "application/json"
	}
	return ct
}

// readCheckedBody reads the body up to the operation's limit.
func readCheckedBody(ctx huma.Context, op *huma.Operation) ([]byte, *Problem) {
	if op.BodyReadTimeout > 0 {
		_ = ctx.SetReadDeadline(time.Now().Add(op.BodyReadTimeout)) // huma sets it again; a failure here leaves huma's
	}
	r := ctx.BodyReader()
	if r == nil {
		return nil, nil
	}
	var buf bytes.Buffer
	if n, err := strconv.ParseInt(ctx.Header("Content-Length"), 10, 64); err == nil && n > 0 && n < op.MaxBodyBytes {
		buf.Grow(int(n))
	}
	n, err := io.Copy(&buf, io.LimitReader(r, op.MaxBodyBytes))
	rctx := ctx.Context()
	var netErr net.Error
	switch {
	case n == op.MaxBodyBytes:
		return nil, newProblem(rctx, http.StatusRequestEntityTooLarge, tooLarge(op.MaxBodyBytes-1))
	case errors.As(err, &netErr) && netErr.Timeout():
		return nil, newProblem(rctx, http.StatusRequestTimeout, "the request body did not arrive in time")
	case err != nil:
		return nil, newProblem(rctx, http.StatusBadRequest, "the request body could not be read",
			ProblemDetail{Location: "body", Message: "the connection failed while the body was read"})
	}
	return buf.Bytes(), nil
}

// bodySchema is the schema of an operation's JSON body: the one under
// application/json, else under the first JSON media type in name order.
func bodySchema(op *huma.Operation) *huma.Schema {
	if mt := op.RequestBody.Content["application/json"]; mt != nil {
		return mt.Schema
	}
	names := make([]string, 0, len(op.RequestBody.Content))
	for name := range op.RequestBody.Content {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if isJSONMedia(name) {
			return op.RequestBody.Content[name].Schema
		}
	}
	return nil
}

// checkedBody is the request as huma reads it after checkRequestBody: the
// checked body, and the Content-Type it stands for.
type checkedBody struct {
	humaContext
	body        []byte
	replaced    bool
	contentType string
}

// BodyReader returns the checked body.
func (c checkedBody) BodyReader() io.Reader {
	if !c.replaced {
		return c.humaContext.BodyReader()
	}
	return bytes.NewReader(c.body)
}

// Header returns the request's header, with Content-Type as checked.
func (c checkedBody) Header(name string) string {
	if strings.EqualFold(name, "Content-Type") {
		return c.contentType
	}
	return c.humaContext.Header(name)
}

// writeHumaProblem writes p from a huma middleware.
func (a *api) writeHumaProblem(ctx huma.Context, p *Problem) {
	ctx.SetHeader("Content-Type", "application/problem+json")
	ctx.SetHeader("Cache-Control", "no-store")
	ctx.SetStatus(p.Status)
	_ = json.NewEncoder(ctx.BodyWriter()).Encode(p) // the client may be gone; nothing to do then
}
