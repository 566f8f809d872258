package postgres

import (
	"context"
	"encoding/json"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

const auditColumns = `id, occurred_at, actor_subject, actor_roles, action, resource_type, resource_id,
	firewall_id, before, after, request_id`

func scanAuditEvent(row scanner) (firewall.AuditEvent, error) {
	var ev firewall.AuditEvent
	var before, after *string
	err := row.Scan(&ev.ID, &ev.OccurredAt, &ev.ActorSubject, &ev.ActorRoles, &ev.Action, &ev.ResourceType,
		&ev.ResourceID, &ev.FirewallID, &before, &after, &ev.RequestID)
	if err != nil {
		return ev, err
	}
	ev.OccurredAt = utc(ev.OccurredAt)
	if before != nil {
		ev.Before = json.RawMessage(*before)
	}
	if after != nil {
		ev.After = json.RawMessage(*after)
	}
	return ev, nil
}

// ListAuditEvents reads one page of the audit log, by default newest first.
func (r reader) ListAuditEvents(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AuditEvent], error) {
	l := store.ListStatement{Resource: filter.AuditEvents, Columns: auditColumns, From: "audit_events"}
	p, err := listPage(ctx, r.q, l, q, scanAuditEvent)
	return p, classify(err, "list audit events")
}

// AppendAuditEvent writes one audit event.
func (t *tx) AppendAuditEvent(ctx context.Context, ev firewall.AuditEvent) error {
	roles := ev.ActorRoles
	if roles == nil {
		roles = []string{} // nil would store JSON null
	}
	_, err := t.q.Exec(ctx, `INSERT INTO audit_events (`+auditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		ev.ID, ev.OccurredAt, ev.ActorSubject, roles, ev.Action, ev.ResourceType,
		ev.ResourceID, ev.FirewallID, nullJSON(ev.Before), nullJSON(ev.After), ev.RequestID)
	return classify(err, "append audit event for %s %s", ev.ResourceType, ev.ResourceID)
}

// nullJSON passes an image as its text, or SQL NULL when there is none.
func nullJSON(raw json.RawMessage) *string {
	if raw == nil {
		return nil
	}
	s := string(raw)
	return &s
}
