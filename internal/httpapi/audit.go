package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

// AuditEvent is one recorded change, as the API shows it.
type AuditEvent struct {
	ID           string    `json:"id" doc:"The event's id, a UUIDv7."`
	OccurredAt   time.Time `json:"occurred_at" doc:"When the change was committed (RFC 3339, UTC)."`
	ActorSubject string    `json:"actor_subject" doc:"The sub claim of the caller's token." example:"alice"`
	ActorRoles   []string  `json:"actor_roles" doc:"The roles claim of the caller's token." example:"[\"editor\"]"`
	Action       string    `json:"action" enum:"create,update,move,delete" doc:"What the change did."`
	ResourceType string    `json:"resource_type" enum:"firewall,filtering_policy,rule" doc:"The kind of resource changed."`
	ResourceID   string    `json:"resource_id" doc:"The id of the resource changed."`
	FirewallID   string    `json:"firewall_id" doc:"The firewall whose tree the resource belongs to."`
	Before       any       `json:"before,omitempty" doc:"The resource before the change; absent on create."`
	After        any       `json:"after,omitempty" doc:"The resource after the change; absent on delete."`
	RequestID    string    `json:"request_id" doc:"The id of the request that made the change, as in the server logs."`
}

func auditEventOut(ev firewall.AuditEvent) AuditEvent {
	out := AuditEvent{ID: ev.ID, OccurredAt: ev.OccurredAt, ActorSubject: ev.ActorSubject, ActorRoles: ev.ActorRoles,
		Action: string(ev.Action), ResourceType: ev.ResourceType, ResourceID: ev.ResourceID,
		FirewallID: ev.FirewallID, RequestID: ev.RequestID}
	if out.ActorRoles == nil {
		out.ActorRoles = []string{}
	}
	// The images were written by the service as JSON objects; a bad one
	// would show as absent rather than fail the whole page.
	_ = json.Unmarshal(ev.Before, &out.Before)
	_ = json.Unmarshal(ev.After, &out.After)
	return out
}

func (a *api) listAuditEvents() endpoint {
	return handle(huma.Operation{
		OperationID: "list-audit-events", Tags: []string{"Audit log"},
		Summary:     "List audit events",
		Description: "Lists every change made through the API, by default newest first: who made it, what it changed, and the resource before and after. filter and order_by select and order them; see docs/filtering.md.",
	}, errs(http.StatusBadRequest), func(ctx context.Context, in *struct{ ListParams }) (*struct{ Body Page[AuditEvent] }, error) {
		page, err := a.svc.ListAuditEvents(ctx, in.query())
		if err != nil {
			return nil, err
		}
		return &struct{ Body Page[AuditEvent] }{Body: pageOf(page, auditEventOut)}, nil
	}).with(nil, describeList(service.AuditEventList))
}
