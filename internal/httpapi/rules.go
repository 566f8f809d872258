package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var ruleTags = []string{"Rules"}

type ruleResponse struct {
	ETag     string `header:"ETag" doc:"The rule's current etag."`
	Location string `header:"Location" doc:"The URL of the created rule."`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this response replays an earlier request with the same Idempotency-Key."`
	Body     Rule
}

func ruleReply(r firewall.Rule) *ruleResponse {
	return &ruleResponse{ETag: quoteETag(r.ETag), Body: ruleOut(r)}
}

func rulesURL(firewallID, policyID string) string {
	return policiesURL(firewallID) + "/" + policyID + "/rules"
}

// MoveInput says where a rule moves. Exactly one field is set.
type MoveInput struct {
	Position int    `json:"position,omitempty" minimum:"1" doc:"The new position, 1 to n." example:"1"`
	Before   string `json:"before,omitempty" maxLength:"64" doc:"Put the rule just before this rule of the same policy."`
	After    string `json:"after,omitempty" maxLength:"64" doc:"Put the rule just after this rule of the same policy."`
}

func (m MoveInput) target() (service.MoveTarget, error) {
	set := 0
	for _, given := range []bool{m.Position != 0, m.Before != "", m.After != ""} {
		if given {
			set++
		}
	}
	if set != 1 {
		var ps firewall.Problems
		ps.Add("", nil, "give exactly one of position, before or after")
		return service.MoveTarget{}, ps.Err("the move is not valid")
	}
	return service.MoveTarget{Position: m.Position, Before: m.Before, After: m.After}, nil
}

func (a *api) listRules() endpoint {
	return handle(huma.Operation{
		OperationID: "list-rules", Tags: ruleTags,
		Summary:     "List a policy's rules",
		Description: "Lists the policy's rules, by default in position order. filter selects them, including by address and port (source_contains, destination_port_contains ...); see docs/filtering.md.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		PolicyParams
		ListParams
	}) (*struct{ Body Page[Rule] }, error) {
		page, err := a.svc.ListRules(ctx, in.FirewallID, in.PolicyID, in.query())
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[Rule] }{Body: pageOf(page, ruleOut)}, nil
	}).with(nil, describeList(service.RuleList))
}

func (a *api) createRule() endpoint {
	return handle(huma.Operation{
		OperationID: "create-rule", Tags: ruleTags,
		Summary: "Create a rule", DefaultStatus: http.StatusCreated,
		Description: "Creates a rule at the given position (default: the end); the rules from there on shift down by one.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			PolicyParams
			IdempotencyHeader
			Body RuleInput
		}) (*ruleResponse, error) {
			r, err := in.Body.domain()
			if err != nil {
				return nil, err
			}
			idem, err := in.idempotency(rulesURL(in.FirewallID, in.PolicyID), in.Body)
			if err != nil {
				return nil, err
			}
			r, replayed, err := a.svc.CreateRule(ctx, in.FirewallID, in.PolicyID, r, idem)
			if err != nil {
				return nil, err
			}
			out := ruleReply(r)
			out.Location, out.Replayed = rulesURL(r.FirewallID, r.PolicyID)+"/"+r.ID, replayHeader(replayed)
			return out, nil
		})
}

func (a *api) getRule() endpoint {
	return handle(huma.Operation{
		OperationID: "get-rule", Tags: ruleTags,
		Summary: "Get a rule",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *RuleParams) (*ruleResponse, error) {
		r, err := a.svc.GetRule(ctx, in.FirewallID, in.PolicyID, in.RuleID)
		if err != nil {
			return nil, err
		}
		return ruleReply(r), nil
	})
}

func (a *api) updateRule() endpoint {
	return handle(huma.Operation{
		OperationID: "update-rule", Tags: ruleTags,
		Summary:     "Update a rule",
		Description: "Changes a rule with JSON merge-patch semantics (RFC 7386). Lists are replaced whole. The position changes only through the move action.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			RuleParams
			IfMatchHeader
			Body RulePatch `contentType:"application/merge-patch+json"`
		}) (*ruleResponse, error) {
			r, err := a.svc.UpdateRule(ctx, in.FirewallID, in.PolicyID, in.RuleID, in.precondition(), in.Body.domain())
			if err != nil {
				return nil, err
			}
			return ruleReply(r), nil
		})
}

func (a *api) moveRule() endpoint {
	return handle(huma.Operation{
		OperationID: "move-rule", Tags: ruleTags,
		Summary:     "Move a rule",
		Description: "Moves a rule to a position, or just before or after another rule of the same policy. The rules in between are renumbered so that positions stay 1..n.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusPreconditionFailed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType),
		func(ctx context.Context, in *struct {
			RuleParams
			IfMatchHeader
			Body MoveInput
		}) (*ruleResponse, error) {
			to, err := in.Body.target()
			if err != nil {
				return nil, err
			}
			r, err := a.svc.MoveRule(ctx, in.FirewallID, in.PolicyID, in.RuleID, in.precondition(), to)
			if err != nil {
				return nil, err
			}
			return ruleReply(r), nil
		})
}

func (a *api) deleteRule() endpoint {
	return handle(huma.Operation{
		OperationID: "delete-rule", Tags: ruleTags,
		Summary: "Delete a rule", DefaultStatus: http.StatusNoContent,
		Description: "Deletes a rule; the rules after it move up by one.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusPreconditionFailed),
		func(ctx context.Context, in *struct {
			RuleParams
			IfMatchHeader
		}) (*struct{}, error) {
			return nil, a.svc.DeleteRule(ctx, in.FirewallID, in.PolicyID, in.RuleID, in.precondition())
		})
}
