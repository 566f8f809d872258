package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
)

const auditColumns = `id, occurred_at, actor_subject, actor_roles, action, resource_type, resource_id,
	firewall_id, before, after, request_id, change_request_id`

func scanAuditEvent(row Row) (firewall.AuditEvent, error) {
	var ev firewall.AuditEvent
	var roles string
	var before, after sql.NullString
	err := row.Scan(&ev.ID, timeScan{&ev.OccurredAt}, &ev.ActorSubject, &roles, &ev.Action, &ev.ResourceType,
		&ev.ResourceID, &ev.FirewallID, &before, &after, &ev.RequestID, &ev.ChangeRequestID)
	if err != nil {
		return ev, err
	}
	if before.Valid {
		ev.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		ev.After = json.RawMessage(after.String)
	}
	if err := json.Unmarshal([]byte(roles), &ev.ActorRoles); err != nil {
		return ev, fmt.Errorf("decode actor roles: %w", err)
	}
	return ev, nil
}

// ListAuditEvents reads one page of the audit log, by default newest first.
func (r Reader) ListAuditEvents(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AuditEvent], error) {
	l := listStatement{resource: filter.AuditEvents, columns: auditColumns, from: "audit_events"}
	p, err := listPage(ctx, r.q, l, q, scanAuditEvent)
	return p, r.classify(err, "list audit events")
}

// AppendAuditEvent writes one audit event.
func (t *Tx) AppendAuditEvent(ctx context.Context, ev firewall.AuditEvent) error {
	roles, err := json.Marshal(ev.ActorRoles)
	if err != nil {
		return fmt.Errorf("encode actor roles: %w", err)
	}
	if ev.ActorRoles == nil {
		roles = []byte("[]") // nil would store JSON null
	}
	t.hist.noteEvent(ev)
	_, err = t.q.exec(ctx, `INSERT INTO audit_events (`+auditColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.ID, t.q.d.Time(ev.OccurredAt), ev.ActorSubject, string(roles), ev.Action, ev.ResourceType,
		ev.ResourceID, ev.FirewallID, nullJSON(ev.Before), nullJSON(ev.After), ev.RequestID, ev.ChangeRequestID)
	return t.classify(err, "append audit event for %s %s", ev.ResourceType, ev.ResourceID)
}
