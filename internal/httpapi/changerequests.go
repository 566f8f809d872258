package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

var changeRequestTags = []string{"Change requests"}

// OperationInput is one write a change request proposes. op says which;
// the other fields are those that kind takes.
type OperationInput struct {
	Op          string       `json:"op" enum:"create_policy,patch_policy,delete_policy,create_rule,patch_rule,move_rule,delete_rule" doc:"What the operation does."`
	PolicyID    string       `json:"policy_id,omitempty" maxLength:"255" doc:"The policy acted on, or holding the rule acted on, by id. Not for create_policy."`
	PolicyName  string       `json:"policy_name,omitempty" maxLength:"255" doc:"The same policy by name, instead of policy_id: a policy an earlier operation of the request creates has no id yet."`
	RuleID      string       `json:"rule_id,omitempty" maxLength:"255" doc:"The rule acted on by patch_rule, move_rule and delete_rule, by id."`
	RuleName    string       `json:"rule_name,omitempty" maxLength:"255" doc:"The same rule by name, instead of rule_id."`
	Policy      *PolicyInput `json:"policy,omitempty" doc:"create_policy: the policy to create."`
	Rule        *RuleInput   `json:"rule,omitempty" doc:"create_rule: the rule to create, at its position (default: the end)."`
	PolicyPatch *PolicyPatch `json:"policy_patch,omitempty" doc:"patch_policy: a JSON merge patch of the policy."`
	RulePatch   *RulePatch   `json:"rule_patch,omitempty" doc:"patch_rule: a JSON merge patch of the rule."`
	Position    int          `json:"position,omitempty" minimum:"1" doc:"move_rule: the new position, 1 to n."`
	Before      string       `json:"before,omitempty" maxLength:"255" doc:"move_rule: put the rule just before this rule (id) of the same policy."`
	After       string       `json:"after,omitempty" maxLength:"255" doc:"move_rule: put the rule just after this rule (id) of the same policy."`
	Cascade     bool         `json:"cascade,omitempty" doc:"delete_policy: also delete the policy's rules; without it a policy with rules is not deleted."`
}

// domain converts the operation, naming its problems under at.
func (o OperationInput) domain(at string, ps *firewall.Problems) firewall.Operation {
	op := firewall.Operation{Op: firewall.OpKind(o.Op), PolicyID: o.PolicyID, PolicyName: o.PolicyName,
		RuleID: o.RuleID, RuleName: o.RuleName, Position: o.Position, Before: o.Before, After: o.After, Cascade: o.Cascade}
	if o.Policy != nil {
		p := o.Policy.domain()
		op.Policy = &p
	}
	if o.Rule != nil {
		r, err := o.Rule.domain()
		ps.AddFrom(at+".rule.", err)
		op.Rule = &r
	}
	if o.PolicyPatch != nil {
		p := o.PolicyPatch.domain()
		op.PolicyPatch = &p
	}
	if o.RulePatch != nil {
		p := o.RulePatch.domain()
		op.RulePatch = &p
	}
	return op
}

func operationOut(op firewall.Operation) OperationInput {
	o := OperationInput{Op: string(op.Op), PolicyID: op.PolicyID, PolicyName: op.PolicyName, RuleID: op.RuleID,
		RuleName: op.RuleName, Position: op.Position, Before: op.Before, After: op.After, Cascade: op.Cascade}
	if op.Policy != nil {
		p := policyInputOf(*op.Policy)
		o.Policy = &p
	}
	if op.Rule != nil {
		r := ruleInputOf(*op.Rule)
		r.Position = op.Rule.Position
		o.Rule = &r
	}
	if p := op.PolicyPatch; p != nil {
		o.PolicyPatch = &PolicyPatch{Name: p.Name, Description: p.Description, Priority: p.Priority,
			DefaultAction: p.DefaultAction, Enabled: p.Enabled}
	}
	if p := op.RulePatch; p != nil {
		o.RulePatch = &RulePatch{Name: p.Name, Description: p.Description, Action: p.Action, Protocol: p.Protocol,
			Sources: p.Sources, Destinations: p.Destinations, SourcePorts: p.SourcePorts, DestinationPorts: p.DestinationPorts,
			Enabled: p.Enabled, ExpiresAt: p.ExpiresAt}
	}
	return o
}

// ChangeRequestInput proposes a change: operations, or a whole candidate
// tree, written against a revision of the firewall.
type ChangeRequestInput struct {
	Title        string           `json:"title" minLength:"1" maxLength:"255" doc:"What the change is, in a line." example:"Open HTTPS to the web tier"`
	Description  string           `json:"description,omitempty" maxLength:"8192" doc:"Why, for the reviewer."`
	BaseRevision int64            `json:"base_revision" minimum:"1" doc:"The firewall revision the change was written against: its current revision (GET the firewall or its tree)." example:"7"`
	Operations   []OperationInput `json:"operations,omitempty" maxItems:"1000" doc:"The writes to make, in order. Give operations or candidate, not both."`
	Candidate    *TreeDocument    `json:"candidate,omitempty" doc:"The whole tree wanted, in the shape of GET .../tree. Give operations or candidate, not both."`
}

// domain converts the input, reporting every problem of its parts at once.
func (in ChangeRequestInput) domain() (firewall.ChangeRequest, error) {
	cr := firewall.ChangeRequest{Title: in.Title, Description: in.Description, BaseRevision: in.BaseRevision}
	var ps firewall.Problems
	if in.Operations != nil {
		cr.Operations = make([]firewall.Operation, len(in.Operations))
		for i, o := range in.Operations {
			at := fmt.Sprintf("operations[%d]", i)
			cr.Operations[i] = o.domain(at, &ps)
		}
	}
	if in.Candidate != nil {
		t, err := in.Candidate.Tree()
		ps.AddFrom("candidate.", err)
		cr.Candidate = &t
	}
	if err := ps.Err("the change request is not valid"); err != nil {
		return firewall.ChangeRequest{}, err
	}
	return cr, nil
}

// ChangeComment is one step of a change request's review.
type ChangeComment struct {
	At     time.Time `json:"at" doc:"When the step was taken."`
	Actor  string    `json:"actor" doc:"Who took it (the token's subject)."`
	Action string    `json:"action" enum:"approve,reject,apply,cancel,stale" doc:"The step."`
	Text   string    `json:"text,omitempty" doc:"What they said."`
}

// ChangeImpact is what a change request does to its base tree.
type ChangeImpact struct {
	Structural      service.TreeDiff        `json:"structural" doc:"Policies and rules added, removed, changed and moved."`
	Semantic        *SemanticDiff           `json:"semantic" doc:"The regions of flows whose decision changes, with example flows."`
	FindingsAdded   []service.FindingChange `json:"findings_added" doc:"Analysis findings the change adds, such as a new rule that is unreachable."`
	FindingsRemoved []service.FindingChange `json:"findings_removed" doc:"Analysis findings the change removes."`
}

// ChangeRequest is a change request as the API shows it.
type ChangeRequest struct {
	Resource
	FirewallID      string           `json:"firewall_id" doc:"The firewall the change is for."`
	Title           string           `json:"title" doc:"What the change is."`
	Description     string           `json:"description" doc:"Why."`
	BaseRevision    int64            `json:"base_revision" doc:"The revision the change and its impact were computed against."`
	State           string           `json:"state" enum:"open,approved,rejected,applied,cancelled,stale" doc:"Where the request is: open, then approved or rejected; approved, then applied or stale; open or approved, then cancelled."`
	NoOp            bool             `json:"no_op" doc:"true when no flow's decision changes: the traffic is already handled as the change would handle it."`
	Author          string           `json:"author" doc:"Who asked for the change."`
	Reviewer        string           `json:"reviewer" doc:"Who approved or rejected it; empty until then."`
	AppliedRevision int64            `json:"applied_revision" doc:"The firewall revision after applying; 0 until applied."`
	StaleReason     string           `json:"stale_reason" doc:"Why the request went stale; empty unless stale."`
	Operations      []OperationInput `json:"operations,omitempty" doc:"The proposed writes; ids of the policies and rules they create are given when the request is made."`
	Candidate       *TreeDocument    `json:"candidate,omitempty" doc:"The proposed tree, its elements matched to the base's."`
	Impact          ChangeImpact     `json:"impact" doc:"What the change does to the base tree."`
	Comments        []ChangeComment  `json:"comments" doc:"The review so far, oldest first."`
}

func changeRequestOut(cr firewall.ChangeRequest) (ChangeRequest, error) {
	im, err := service.DecodeImpact(cr)
	if err != nil {
		return ChangeRequest{}, err
	}
	out := ChangeRequest{Resource: resourceOf(cr.Meta), FirewallID: cr.FirewallID, Title: cr.Title, Description: cr.Description,
		BaseRevision: cr.BaseRevision, State: string(cr.State), NoOp: cr.NoOp, Author: cr.Author, Reviewer: cr.Reviewer,
		AppliedRevision: cr.AppliedRevision, StaleReason: cr.StaleReason, Comments: make([]ChangeComment, len(cr.Comments)),
		Impact: ChangeImpact{Structural: im.Structural, Semantic: semanticDiffOut(&im.Semantic),
			FindingsAdded: nonNilList(im.FindingsAdded), FindingsRemoved: nonNilList(im.FindingsRemoved)}}
	for i, c := range cr.Comments {
		out.Comments[i] = ChangeComment{At: c.At, Actor: c.Actor, Action: c.Action, Text: c.Text}
	}
	if cr.Operations != nil {
		out.Operations = make([]OperationInput, len(cr.Operations))
		for i, op := range cr.Operations {
			out.Operations[i] = operationOut(op)
		}
	}
	if cr.Candidate != nil {
		d := TreeDocumentOf(*cr.Candidate)
		out.Candidate = &d
	}
	return out, nil
}

func nonNilList[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type changeRequestResponse struct {
	ETag     string `header:"ETag" doc:"The change request's current etag."`
	Location string `header:"Location" doc:"The URL of the created change request."`
	Replayed string `header:"Idempotent-Replayed" doc:"true when this response replays an earlier request with the same Idempotency-Key."`
	Body     ChangeRequest
}

func changeRequestReply(cr firewall.ChangeRequest) (*changeRequestResponse, error) {
	body, err := changeRequestOut(cr)
	if err != nil {
		return nil, err
	}
	return &changeRequestResponse{ETag: quoteETag(cr.ETag), Body: body}, nil
}

func changeRequestsURL(firewallID string) string {
	return firewallsPath + "/" + firewallID + "/change-requests"
}

// ChangeRequestParams names a change request in the path.
type ChangeRequestParams struct {
	FirewallParams
	ChangeRequestID string `path:"change_request_id" maxLength:"64" doc:"The change request's id." example:"01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f"`
}

// TransitionInput is what a reviewer may say with a transition.
type TransitionInput struct {
	Comment string `json:"comment,omitempty" maxLength:"4096" doc:"What the person taking the step says, kept in the request's comments."`
}

func (a *api) createChangeRequest() endpoint {
	return handle(huma.Operation{
		OperationID: "create-change-request", Tags: changeRequestTags,
		Summary: "Propose a change", DefaultStatus: http.StatusCreated,
		Description: "Stores a proposed change (operations or a whole candidate tree) written against base_revision, with its impact on that tree: the structural and semantic diffs, the analysis findings it adds and removes, and no_op when no flow's decision changes. The request starts open; the caller is its author. See docs/change-requests.md.",
	}, errs(http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity),
		func(ctx context.Context, in *struct {
			FirewallParams
			IdempotencyHeader
			Body ChangeRequestInput
		}) (*changeRequestResponse, error) {
			cr, err := in.Body.domain()
			if err != nil {
				return nil, err
			}
			idem, err := in.idempotency(changeRequestsURL(in.FirewallID), in.Body)
			if err != nil {
				return nil, err
			}
			cr, replayed, err := a.svc.CreateChangeRequest(ctx, in.FirewallID, cr, idem)
			if err != nil {
				return nil, err
			}
			out, err := changeRequestReply(cr)
			if err != nil {
				return nil, err
			}
			out.Location, out.Replayed = changeRequestsURL(cr.FirewallID)+"/"+cr.ID, replayHeader(replayed)
			return out, nil
		}).with(func(op *huma.Operation) {
		op.MaxBodyBytes = bodyLimit(treeMaxBodySize)
	}, nil)
}

func (a *api) listChangeRequests() endpoint {
	return handle(huma.Operation{
		OperationID: "list-change-requests", Tags: changeRequestTags,
		Summary:     "List a firewall's change requests",
		Description: "Lists the firewall's change requests, by default newest first. filter selects them, for example by state; see docs/filtering.md.",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *struct {
		FirewallParams
		ListParams
	}) (*struct{ Body Page[ChangeRequest] }, error) {
		page, err := a.svc.ListChangeRequests(ctx, in.FirewallID, in.query())
		if err != nil {
			return nil, err
		}
		out := Page[ChangeRequest]{Items: make([]ChangeRequest, len(page.Items)), NextPageToken: page.NextPageToken}
		for i, cr := range page.Items {
			if out.Items[i], err = changeRequestOut(cr); err != nil {
				return nil, err
			}
		}
		return &struct{ Body Page[ChangeRequest] }{Body: out}, nil
	}).with(nil, describeList(service.ChangeRequestList))
}

func (a *api) getChangeRequest() endpoint {
	return handle(huma.Operation{
		OperationID: "get-change-request", Tags: changeRequestTags,
		Summary: "Get a change request",
	}, errs(http.StatusBadRequest, http.StatusNotFound), func(ctx context.Context, in *ChangeRequestParams) (*changeRequestResponse, error) {
		cr, err := a.svc.GetChangeRequest(ctx, in.FirewallID, in.ChangeRequestID)
		if err != nil {
			return nil, err
		}
		return changeRequestReply(cr)
	})
}

// transitionFunc is one of the service's change request transitions.
type transitionFunc func(ctx context.Context, firewallID, id, comment string, pre service.Precondition) (firewall.ChangeRequest, error)

// transition makes the endpoint of one transition.
func (a *api) transition(action, summary, description string, codes []int, do func() transitionFunc) endpoint {
	return handle(huma.Operation{
		OperationID: action + "-change-request", Tags: changeRequestTags,
		Summary: summary, Description: description,
	}, codes, func(ctx context.Context, in *struct {
		ChangeRequestParams
		IfMatchHeader
		Body *TransitionInput `required:"false"`
	}) (*changeRequestResponse, error) {
		comment := ""
		if in.Body != nil {
			comment = in.Body.Comment
		}
		cr, err := do()(ctx, in.FirewallID, in.ChangeRequestID, comment, in.precondition())
		if err != nil {
			return nil, err
		}
		return changeRequestReply(cr)
	})
}

func transitionErrors() []int {
	return []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType}
}

func (a *api) approveChangeRequest() endpoint {
	return a.transition("approve", "Approve a change request",
		"Approves an open change request after reviewing its impact. Nobody approves their own request: the author gets 403. A request that is not open answers 409, and so does one the firewall has moved past in a way that conflicts (the test apply makes), which becomes stale.",
		transitionErrors(), func() transitionFunc { return a.svc.ApproveChangeRequest })
}

func (a *api) rejectChangeRequest() endpoint {
	return a.transition("reject", "Reject a change request",
		"Rejects an open change request. As for approving, the author cannot (403); the author cancels instead.",
		transitionErrors(), func() transitionFunc { return a.svc.RejectChangeRequest })
}

func (a *api) applyChangeRequest() endpoint {
	return a.transition("apply", "Apply a change request",
		"Applies an approved change request in one transaction. When the firewall has moved past the base, the change is recomputed on the current tree first: it applies only if its operations still apply (for a candidate, if the parts it changes are as they were) and its semantic diff is unchanged; otherwise the request becomes stale and the answer is 409 with the reason. An unapproved request answers 409. Every audit event of the applied change carries change_request_id.",
		transitionErrors(), func() transitionFunc { return a.svc.ApplyChangeRequest })
}

func (a *api) cancelChangeRequest() endpoint {
	return a.transition("cancel", "Cancel a change request",
		"Withdraws an open or approved change request. Any editor may, the author included.",
		transitionErrors(), func() transitionFunc { return a.svc.CancelChangeRequest })
}
