package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var policyTags = []string{"Filtering policies"}

type policyResponse struct {
	ETag     string `header:"ETag" doc:"The policy's current etag."`
	Location string `header:"Location" doc:"The URL of the created policy."`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this response replays an earlier request with the same Idempotency-Key."`
	Body     Policy
}

func policyReply(p firewall.Policy) *policyResponse {
	return &policyResponse{ETag: quoteETag(p.ETag), Body: policyOut(p)}
}

func policiesURL(firewallID string) string {
	return firewallsPath + "/" + firewallID + "/filtering-policies"
}

func (a *api) listPolicies() endpoint {
	return handle(huma.Operation{
		OperationID: "list-filtering-policies", Tags: policyTags,
		Summary:     "List a firewall's filtering policies",
		Description: "Lists the firewall's policies, by default in priority order, lowest number first. filter and order_by select and order them; see docs/filtering.md.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		FirewallParams
		ListParams
	}) (*struct{ Body Page[Policy] }, error) {
		page, err := a.svc.ListPolicies(ctx, in.FirewallID, in.query())
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[Policy] }{Body: pageOf(page, policyOut)}, nil
	}).with(nil, describeList(service.PolicyList))
}

func (a *api) createPolicy() endpoint {
	return handle(huma.Operation{
		OperationID: "create-filtering-policy", Tags: policyTags,
		Summary: "Create a filtering policy", DefaultStatus: http.StatusCreated,
		Description: "Creates a policy in the firewall. Its name and its priority must be unique within the firewall.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			FirewallParams
			IdempotencyHeader
			Body PolicyInput
		}) (*policyResponse, error) {
			idem, err := in.idempotency(policiesURL(in.FirewallID), in.Body)
			if err != nil {
				return nil, err
			}
			p, replayed, err := a.svc.CreatePolicy(ctx, in.FirewallID, in.Body.domain(), idem)
			if err != nil {
				return nil, err
			}
			out := policyReply(p)
			out.Location, out.Replayed = policiesURL(p.FirewallID)+"/"+p.ID, replayHeader(replayed)
			return out, nil
		})
}

func (a *api) getPolicy() endpoint {
	return handle(huma.Operation{
		OperationID: "get-filtering-policy", Tags: policyTags,
		Summary: "Get a filtering policy",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *PolicyParams) (*policyResponse, error) {
		p, err := a.svc.GetPolicy(ctx, in.FirewallID, in.PolicyID)
		if err != nil {
			return nil, err
		}
		return policyReply(p), nil
	})
}

func (a *api) updatePolicy() endpoint {
	return handle(huma.Operation{
		OperationID: "update-filtering-policy", Tags: policyTags,
		Summary:     "Update a filtering policy",
		Description: "Changes a policy with JSON merge-patch semantics (RFC 7386): fields left out stay as they are, null resets a field.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			PolicyParams
			IfMatchHeader
			Body PolicyPatch `contentType:"application/merge-patch+json"`
		}) (*policyResponse, error) {
			p, err := a.svc.UpdatePolicy(ctx, in.FirewallID, in.PolicyID, in.precondition(), in.Body.domain())
			if err != nil {
				return nil, err
			}
			return policyReply(p), nil
		})
}

func (a *api) deletePolicy() endpoint {
	return handle(huma.Operation{
		OperationID: "delete-filtering-policy", Tags: policyTags,
		Summary: "Delete a filtering policy", DefaultStatus: http.StatusNoContent,
		Description: "Deletes a policy. A policy that still has rules answers 409 unless cascade=true.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed),
		func(ctx context.Context, in *struct {
			PolicyParams
			IfMatchHeader
			CascadeParam
		}) (*struct{}, error) {
			return nil, a.svc.DeletePolicy(ctx, in.FirewallID, in.PolicyID, in.precondition(), in.Cascade)
		})
}
