package store

import (
	"context"

	"github.com/fireflow/fireflow/internal/firewall"
)

// GroupKind says which of the two group collections a call is about.
type GroupKind int

// The group kinds.
const (
	AddressGroupKind GroupKind = iota + 1
	ServiceGroupKind
)

// String names the kind as messages do.
func (k GroupKind) String() string {
	if k == ServiceGroupKind {
		return "service group"
	}
	return "address group"
}

// GroupNode is one group of the nesting graph: how many literal members it
// has and the groups it nests, in order.
type GroupNode struct {
	Name    string
	Members int
	Nested  []string
}

// RuleUse is one rule that uses a group, directly or through nesting.
type RuleUse struct {
	FirewallID, FirewallName string
	PolicyID, PolicyName     string
	RuleID, RuleName         string
	// Field is the rule field that refers: source_groups,
	// destination_groups or service_groups.
	Field string
	// Via is the group the rule refers to: the group asked about, or a
	// group that nests it.
	Via firewall.GroupRef
	// Side and Position place the reference in the rule (1 source, 2
	// destination, 3 service; 0-based in its list): with the ids they
	// key the order of uses, which pages by.
	Side, Position int
}

// RuleUseKey is the place of a rule use in the order of GroupRuleUses.
type RuleUseKey struct {
	FirewallID, PolicyID, RuleID string
	Side, Position               int
}

// Key returns u's place in the order of uses.
func (u RuleUse) Key() RuleUseKey {
	return RuleUseKey{u.FirewallID, u.PolicyID, u.RuleID, u.Side, u.Position}
}

// GroupUsage is everything that uses a group, directly or through nesting.
type GroupUsage struct {
	// Groups nest the group, directly or through others.
	Groups []firewall.GroupRef
	// Rules refer to the group or to one of Groups, ordered by firewall,
	// policy and rule id, then side and position.
	Rules []RuleUse
}

// GroupReader reads groups. It is part of Reader.
type GroupReader interface {
	GetAddressGroup(ctx context.Context, id string) (firewall.AddressGroup, error)
	// ListAddressGroups orders by name (case-insensitive), then id, by default.
	ListAddressGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.AddressGroup], error)
	GetServiceGroup(ctx context.Context, id string) (firewall.ServiceGroup, error)
	// ListServiceGroups orders by name (case-insensitive), then id, by default.
	ListServiceGroups(ctx context.Context, q firewall.Query) (firewall.Page[firewall.ServiceGroup], error)
	// FindGroup returns the group of kind whose id is key, else whose name
	// is key (case-insensitive), or a firewall.CodeNotFound error.
	FindGroup(ctx context.Context, kind GroupKind, key string) (firewall.GroupRef, error)
	// GroupGraph returns every group of kind by id, for the nesting checks.
	GroupGraph(ctx context.Context, kind GroupKind) (map[string]GroupNode, error)
	// GroupUsage lists the groups and rules that use group id of kind,
	// directly or through nesting.
	GroupUsage(ctx context.Context, kind GroupKind, id string) (GroupUsage, error)
	// GroupRuleUses returns at most limit of the rules GroupUsage lists,
	// in its order, starting after the use after (nil: from the first).
	GroupRuleUses(ctx context.Context, kind GroupKind, id string, after *RuleUseKey, limit int) ([]RuleUse, error)
}

// GroupWriter writes groups. It is part of Tx. References are by id; the
// caller resolves names and checks nesting before it writes.
type GroupWriter interface {
	// LockAddressGroup reads the group and holds a write lock on it until
	// the transaction ends.
	LockAddressGroup(ctx context.Context, id string) (firewall.AddressGroup, error)
	CreateAddressGroup(ctx context.Context, g *firewall.AddressGroup) error
	UpdateAddressGroup(ctx context.Context, g *firewall.AddressGroup) error
	// DeleteAddressGroup deletes the group; a group still referenced by a
	// rule or a group answers firewall.CodeConflict.
	DeleteAddressGroup(ctx context.Context, id string) error
	LockServiceGroup(ctx context.Context, id string) (firewall.ServiceGroup, error)
	CreateServiceGroup(ctx context.Context, g *firewall.ServiceGroup) error
	UpdateServiceGroup(ctx context.Context, g *firewall.ServiceGroup) error
	DeleteServiceGroup(ctx context.Context, id string) error
}
