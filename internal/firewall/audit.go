package firewall

import (
	"encoding/json"
	"time"
)

// AuditAction is what a change did.
type AuditAction string

// The audited actions.
const (
	AuditCreate AuditAction = "create"
	AuditUpdate AuditAction = "update"
	AuditMove   AuditAction = "move"
	AuditDelete AuditAction = "delete"
)

// The resource types named in audit events.
const (
	KindFirewall = "firewall"
	KindPolicy   = "filtering_policy"
	KindRule     = "rule"
	// KindChangeRequest names a change request's own events: its creation
	// and each transition of its review.
	KindChangeRequest = "change_request"
	// Groups are global: their events carry no firewall id.
	KindAddressGroup = "address_group"
	KindServiceGroup = "service_group"
)

// AuditEvent records one change: who made it, to what, and the resource
// before and after. It is written in the same transaction as the change.
type AuditEvent struct {
	ID           string          `json:"id"`
	OccurredAt   time.Time       `json:"occurred_at"`
	ActorSubject string          `json:"actor_subject"`
	ActorRoles   []string        `json:"actor_roles"`
	Action       AuditAction     `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	FirewallID   string          `json:"firewall_id"`
	Before       json.RawMessage `json:"before,omitempty"` // absent on create
	After        json.RawMessage `json:"after,omitempty"`  // absent on delete
	RequestID    string          `json:"request_id"`
	// ChangeRequestID names the change request whose applying made the
	// change, or the request an event of its own review is about.
	ChangeRequestID string `json:"change_request_id,omitempty"`
}
