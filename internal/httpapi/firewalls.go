package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var firewallTags = []string{"Firewalls"}

type firewallResponse struct {
	ETag     string `header:"ETag" doc:"The firewall's current etag."`
	Location string `header:"Location" doc:"The URL of the created firewall."`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this response replays an earlier request with the same Idempotency-Key."`
	Body     Firewall
}

func firewallReply(f firewall.Firewall) *firewallResponse {
	return &firewallResponse{ETag: quoteETag(f.ETag), Body: firewallOut(f)}
}

func (a *api) listFirewalls() endpoint {
	return handle(huma.Operation{
		OperationID: "list-firewalls", Tags: firewallTags,
		Summary:     "List firewalls",
		Description: "Lists firewalls, by default ordered by name, one page at a time. filter and order_by select and order them; see docs/filtering.md.",
	}, errs(http.StatusBadRequest), func(ctx context.Context, in *struct{ ListParams }) (*struct{ Body Page[Firewall] }, error) {
		page, err := a.svc.ListFirewalls(ctx, in.query())
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[Firewall] }{Body: pageOf(page, firewallOut)}, nil
	}).with(nil, describeList(service.FirewallList))
}

func (a *api) createFirewall() endpoint {
	return handle(huma.Operation{
		OperationID: "create-firewall", Tags: firewallTags,
		Summary: "Create a firewall", DefaultStatus: http.StatusCreated,
		Description: "Creates a firewall. Its name must be unique, compared case-insensitively.",
	}, errs(http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			IdempotencyHeader
			Body FirewallInput
		}) (*firewallResponse, error) {
			idem, err := in.idempotency(firewallsPath, in.Body)
			if err != nil {
				return nil, err
			}
			f, replayed, err := a.svc.CreateFirewall(ctx, in.Body.domain(), idem)
			if err != nil {
				return nil, err
			}
			out := firewallReply(f)
			out.Location, out.Replayed = firewallsPath+"/"+f.ID, replayHeader(replayed)
			return out, nil
		})
}

func (a *api) getFirewall() endpoint {
	return handle(huma.Operation{
		OperationID: "get-firewall", Tags: firewallTags,
		Summary: "Get a firewall",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *FirewallParams) (*firewallResponse, error) {
		f, err := a.svc.GetFirewall(ctx, in.FirewallID)
		if err != nil {
			return nil, err
		}
		return firewallReply(f), nil
	})
}

func (a *api) updateFirewall() endpoint {
	return handle(huma.Operation{
		OperationID: "update-firewall", Tags: firewallTags,
		Summary:     "Update a firewall",
		Description: "Changes a firewall with JSON merge-patch semantics (RFC 7386): fields left out stay as they are, null resets a field.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			FirewallParams
			IfMatchHeader
			Body FirewallPatch `contentType:"application/merge-patch+json"`
		}) (*firewallResponse, error) {
			f, err := a.svc.UpdateFirewall(ctx, in.FirewallID, in.precondition(), in.Body.domain())
			if err != nil {
				return nil, err
			}
			return firewallReply(f), nil
		})
}

func (a *api) deleteFirewall() endpoint {
	return handle(huma.Operation{
		OperationID: "delete-firewall", Tags: firewallTags,
		Summary: "Delete a firewall", DefaultStatus: http.StatusNoContent,
		Description: "Deletes a firewall. A firewall that still has filtering policies answers 409 unless cascade=true.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed),
		func(ctx context.Context, in *struct {
			FirewallParams
			IfMatchHeader
			CascadeParam
		}) (*struct{}, error) {
			return nil, a.svc.DeleteFirewall(ctx, in.FirewallID, in.precondition(), in.Cascade)
		})
}
