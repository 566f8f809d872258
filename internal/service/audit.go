package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// Caller is who makes a request, as the audit log records it.
type Caller struct {
	Subject   string
	Roles     []string
	RequestID string
}

type callerKey struct{}

// WithCaller returns a context that carries the caller of a request.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

func callerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}

// ListAuditEvents returns one page of the audit log: the events q.Filter
// selects, by default newest first.
func (s *Service) ListAuditEvents(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AuditEvent], error) {
	return s.store.ListAuditEvents(ctx, clampPage(q))
}

// auditEntry describes one change for the audit log: before is nil on
// create, after is nil on delete.
type auditEntry struct {
	action        firewall.AuditAction
	kind          string
	id            string
	firewallID    string
	before, after any
}

// audit records c in tx, so that the change and its event commit together
// or not at all.
func (s *Service) audit(ctx context.Context, tx store.Tx, c auditEntry) error {
	caller := callerFrom(ctx)
	ev := firewall.AuditEvent{
		ID:           newID(),
		OccurredAt:   s.now().UTC().Truncate(time.Microsecond),
		ActorSubject: caller.Subject,
		ActorRoles:   caller.Roles,
		Action:       c.action,
		ResourceType: c.kind,
		ResourceID:   c.id,
		FirewallID:   c.firewallID,
		RequestID:    caller.RequestID,
		// Set while a change request applies, and on its own events.
		ChangeRequestID: changeRequestFrom(ctx),
	}
	var err error
	if ev.Before, err = image(c.before); err != nil {
		return err
	}
	if ev.After, err = image(c.after); err != nil {
		return err
	}
	if err := tx.AppendAuditEvent(ctx, ev); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

func image(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode audit image: %w", err)
	}
	return b, nil
}
