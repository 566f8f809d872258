package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/service"
)

// Authenticator verifies bearer tokens.
type Authenticator interface {
	Verify(ctx context.Context, token string) (auth.Principal, error)
}

// roleKey is the operation metadata key that holds the role an operation
// needs. Operations without it are public.
const roleKey = "fireflow.role"

// bearerScheme names the security scheme in the OpenAPI document.
const bearerScheme = "bearer"

func declareBearerScheme(doc *huma.OpenAPI) {
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	doc.Components.SecuritySchemes[bearerScheme] = &huma.SecurityScheme{
		Type:         "http",
		Scheme:       "bearer",
		BearerFormat: "JWT",
		Description:  "A JWT whose roles claim holds viewer (read), editor (also write), approver (read, and approve or reject others' change requests) or admin (everything, including the audit log). `fireflow token` mints one.",
	}
}

// requireRole marks op as needing role: the token check runs before the
// request is parsed, and the OpenAPI document says so.
func requireRole(op *huma.Operation, role auth.Role) {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[roleKey] = role
	op.Security = []map[string][]string{{bearerScheme: {}}}
	if op.Description != "" {
		op.Description += "\n\n"
	}
	op.Description += fmt.Sprintf("Needs the **%s** role.", role)
}

// authenticate is the huma middleware that checks the bearer token and the
// role of every operation that needs one.
func (a *api) authenticate(ctx huma.Context, next func(huma.Context)) {
	need, _ := ctx.Operation().Metadata[roleKey].(auth.Role)
	if need == "" {
		next(ctx)
		return
	}
	token, found := bearerToken(ctx.Header("Authorization"))
	if !found {
		a.unauthorized(ctx, "missing", "send a bearer token: Authorization: Bearer <token>")
		return
	}
	p, err := a.opts.Auth.Verify(ctx.Context(), token)
	if err != nil {
		var ae *auth.Error
		if !errors.As(err, &ae) {
			ae = &auth.Error{Reason: "unverifiable", Message: "the token could not be verified"}
			a.log.ErrorContext(ctx.Context(), "token verification failed", "request_id", requestID(ctx.Context()), "error", err)
		}
		a.unauthorized(ctx, string(ae.Reason), ae.Message)
		return
	}
	setSubject(ctx.Context(), p.Subject)
	if !a.limitRate(ctx, p.Subject) {
		return
	}
	if !p.Can(need) {
		a.opts.Observer.AuthFailed("forbidden")
		held := string(p.Role)
		if held == "" {
			held = "no FireFlow role"
		}
		_ = huma.WriteErr(a.humaAPI, ctx, http.StatusForbidden,
			fmt.Sprintf("this operation needs the %s role; the token grants %s", need, held))
		return
	}
	caller := service.Caller{Subject: p.Subject, Roles: p.Roles, RequestID: requestID(ctx.Context())}
	next(huma.WithContext(ctx, service.WithCaller(ctx.Context(), caller)))
}

func (a *api) unauthorized(ctx huma.Context, reason, msg string) {
	if !a.limitRate(ctx, "") {
		return
	}
	challenge := `Bearer realm="fireflow"`
	if reason != "missing" {
		challenge += `, error="invalid_token"`
	}
	ctx.SetHeader("WWW-Authenticate", challenge)
	a.opts.Observer.AuthFailed(reason)
	a.log.InfoContext(ctx.Context(), "unauthenticated request", "request_id", requestID(ctx.Context()), "reason", reason)
	_ = huma.WriteErr(a.humaAPI, ctx, http.StatusUnauthorized, msg)
}

// bearerToken takes the token out of an Authorization header.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
