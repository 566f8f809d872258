package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

const firewallsPath = "/api/v1/firewalls"

type firewallResponse struct {
	ETag     string `header:"ETag" doc:"The firewall's current etag."`
	Location string `header:"Location" doc:"The URL of the created firewall."`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this response replays an earlier request with the same Idempotency-Key."`
	Body     Firewall
}

func firewallReply(f firewall.Firewall) *firewallResponse {
	return &firewallResponse{ETag: quoteETag(f.ETag), Body: firewallOut(f)}
}

func (a *api) registerFirewalls() {
	tags := []string{"Firewalls"}

	huma.Register(a.humaAPI, a.operation(huma.Operation{
		OperationID: "list-firewalls", Method: http.MethodGet, Path: firewallsPath, Tags: tags,
		Summary:     "List firewalls",
		Description: "Lists firewalls, by default ordered by name, one page at a time. filter and order_by select and order them; see docs/filtering.md.",
	}, auth.Viewer, http.StatusBadRequest), func(ctx context.Context, in *struct{ ListParams }) (*struct{ Body Page[Firewall] }, error) {
		page, err := a.svc.ListFirewalls(ctx, in.query())
		if err != nil {
			return nil, a.toProblem(ctx, err)
		}
		return &struct{ Body Page[Firewall] }{Body: pageOf(page, firewallOut)}, nil
	})
	a.describeList(firewallsPath, filter.Firewalls)

	huma.Register(a.humaAPI, a.operation(huma.Operation{
		OperationID: "create-firewall", Method: http.MethodPost, Path: firewallsPath, Tags: tags,
		Summary: "Create a firewall", DefaultStatus: http.StatusCreated,
		Description: "Creates a firewall. Its name must be unique, compared case-insensitively.",
	}, auth.Editor, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			IdempotencyHeader
			Body FirewallInput
		}) (*firewallResponse, error) {
			idem, err := in.idempotency(firewallsPath, in.Body)
			if err != nil {
				return nil, a.toProblem(ctx, err)
			}
			f, replayed, err := a.svc.CreateFirewall(ctx, in.Body.domain(), idem)
			if err != nil {
				return nil, a.toProblem(ctx, err)
			}
			out := firewallReply(f)
			out.Location, out.Replayed = firewallsPath+"/"+f.ID, replayHeader(replayed)
			return out, nil
		})

	huma.Register(a.humaAPI, a.operation(huma.Operation{
		OperationID: "get-firewall", Method: http.MethodGet, Path: firewallsPath + "/{firewall_id}", Tags: tags,
		Summary: "Get a firewall",
	}, auth.Viewer, http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *FirewallParams) (*firewallResponse, error) {
		f, err := a.svc.GetFirewall(ctx, in.FirewallID)
		if err != nil {
			return nil, a.toProblem(ctx, err)
		}
		return firewallReply(f), nil
	})

	huma.Register(a.humaAPI, a.operation(huma.Operation{
		OperationID: "update-firewall", Method: http.MethodPatch, Path: firewallsPath + "/{firewall_id}", Tags: tags,
		Summary:     "Update a firewall",
		Description: "Changes a firewall with JSON merge-patch semantics (RFC 7386): fields left out stay as they are, null resets a field.",
	}, auth.Editor, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			FirewallParams
			IfMatchHeader
			Body FirewallPatch `contentType:"application/merge-patch+json"`
		}) (*firewallResponse, error) {
			f, err := a.svc.UpdateFirewall(ctx, in.FirewallID, in.precondition(), in.Body.domain())
			if err != nil {
				return nil, a.toProblem(ctx, err)
			}
			return firewallReply(f), nil
		})

	huma.Register(a.humaAPI, a.operation(huma.Operation{
		OperationID: "delete-firewall", Method: http.MethodDelete, Path: firewallsPath + "/{firewall_id}", Tags: tags,
		Summary: "Delete a firewall", DefaultStatus: http.StatusNoContent,
		Description: "Deletes a firewall. A firewall that still has filtering policies answers 409 unless cascade=true.",
	}, auth.Editor, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed),
		func(ctx context.Context, in *struct {
			FirewallParams
			IfMatchHeader
			CascadeParam
		}) (*struct{}, error) {
			if err := a.svc.DeleteFirewall(ctx, in.FirewallID, in.precondition(), in.Cascade); err != nil {
				return nil, a.toProblem(ctx, err)
			}
			return nil, nil
		})
}

// CascadeParam asks a delete to remove the resource's children too.
type CascadeParam struct {
	Cascade bool `query:"cascade" doc:"Also delete the children; without it, a resource with children answers 409."`
}
