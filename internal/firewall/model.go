package firewall

import (
	"net/netip"
	"time"
)

// Action is what a rule or a default does with a flow.
type Action string

// The actions. Rules use allow, deny and reject; policy defaults use allow,
// deny and next; firewall defaults use allow and deny.
const (
	Allow  Action = "allow"
	Deny   Action = "deny"
	Reject Action = "reject"
	Next   Action = "next"
)

// Protocol is the transport protocol a rule matches.
type Protocol string

// The protocols a rule can name.
const (
	AnyProtocol Protocol = "any"
	TCP         Protocol = "tcp"
	UDP         Protocol = "udp"
	ICMP        Protocol = "icmp"
	ICMPv6      Protocol = "icmpv6"
)

// HasPorts reports whether flows of protocol p carry ports.
func (p Protocol) HasPorts() bool { return p == TCP || p == UDP }

// Limits of the model, shared by validation and the API documentation.
const (
	MaxNameLen        = 255
	MaxDescriptionLen = 1024
	MaxLabels         = 64
	MaxPriority       = 65535
	MaxListEntries    = 256
)

// Meta holds the fields every resource has. The JSON forms of the domain
// types are what the audit log and idempotent replays keep.
type Meta struct {
	ID        string    `json:"id"`
	ETag      string    `json:"etag"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Firewall holds ordered filtering policies.
type Firewall struct {
	Meta
	Name          string            `json:"name"`
	Description   string            `json:"description"`
	Labels        map[string]string `json:"labels"`
	DefaultAction Action            `json:"default_action"`
	// Revision rises on any change anywhere in the firewall's tree.
	Revision int64 `json:"revision"`
}

// Policy is a filtering policy: an ordered list of rules inside a firewall.
type Policy struct {
	Meta
	FirewallID    string `json:"firewall_id"`
	Name          string `json:"name"`
	Description   string `json:"description"`
	Priority      int    `json:"priority"`
	DefaultAction Action `json:"default_action"`
	Enabled       bool   `json:"enabled"`
}

// Rule matches flows and decides them with its action.
type Rule struct {
	Meta
	FirewallID       string         `json:"firewall_id"`
	PolicyID         string         `json:"policy_id"`
	Name             string         `json:"name"`     // optional; "" means unnamed
	Position         int            `json:"position"` // 1-based; 0 on create means "at the end"
	Description      string         `json:"description"`
	Action           Action         `json:"action"`
	Protocol         Protocol       `json:"protocol"`
	Sources          []netip.Prefix `json:"sources"`
	Destinations     []netip.Prefix `json:"destinations"`
	SourcePorts      []PortRange    `json:"source_ports"`
	DestinationPorts []PortRange    `json:"destination_ports"`
	// The groups beside the literal fields: the source set is Sources plus
	// the members of SourceGroups, and so on (see Groups.RuleSources).
	SourceGroups      []GroupRef `json:"source_groups,omitempty"`
	DestinationGroups []GroupRef `json:"destination_groups,omitempty"`
	ServiceGroups     []GroupRef `json:"service_groups,omitempty"`
	Enabled           bool       `json:"enabled"`
	ExpiresAt         *time.Time `json:"expires_at,omitempty"`
}

// Expired reports whether the rule has an expiry at or before now.
func (r *Rule) Expired(now time.Time) bool {
	return r.ExpiresAt != nil && !now.Before(*r.ExpiresAt)
}

// NewFirewall returns a firewall with the model's defaults.
func NewFirewall() Firewall { return Firewall{DefaultAction: Deny, Labels: map[string]string{}} }

// NewPolicy returns a policy with the model's defaults.
func NewPolicy() Policy { return Policy{DefaultAction: Next, Enabled: true} }

// NewRule returns a rule with the model's defaults.
func NewRule() Rule { return Rule{Protocol: AnyProtocol, Enabled: true} }
