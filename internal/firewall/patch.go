package firewall

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/netip"
	"time"
)

// Optional is one field of a merge patch (RFC 7386): left out (Set is
// false), set to null (Set and Null), or set to Value. A pointer cannot
// tell the first two apart, and a patch must: null resets a field, while
// leaving it out keeps it.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// Some returns a field set to v.
func Some[T any](v T) Optional[T] { return Optional[T]{Set: true, Value: v} }

// Null returns a field set to null.
func Null[T any]() Optional[T] { return Optional[T]{Set: true, Null: true} }

// UnmarshalJSON records that the field was present, and whether it was
// null. encoding/json calls it only for keys present in the object.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	*o = Optional[T]{Set: true}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// IsZero reports whether the field was left out, so that omitzero leaves
// it out of a patch's JSON form.
func (o Optional[T]) IsZero() bool { return !o.Set }

// MarshalJSON writes null for a field set to null and the value otherwise,
// so that a stored patch reads back as the same patch.
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if o.Null || !o.Set {
		return []byte("null"), nil
	}
	return json.Marshal(o.Value)
}

// or returns the patched value: cur when the field is left out, reset when
// it is null, else the value given.
func (o Optional[T]) or(cur, reset T) T {
	switch {
	case !o.Set:
		return cur
	case o.Null:
		return reset
	default:
		return o.Value
	}
}

// required records a problem when a field that has no default is set to
// null: resetting it would silently empty a required field.
func (o Optional[T]) required(ps *Problems, location string) {
	if o.Set && o.Null {
		ps.Add(location, nil, "%s cannot be null; leave it out to keep its value", location)
	}
}

// FirewallPatch is a merge patch of a firewall's writable fields. A null
// description or default_action resets it to the model's default; in
// Labels, a nil value deletes that label, and a null Labels deletes them all.
type FirewallPatch struct {
	Name          Optional[string]
	Description   Optional[string]
	Labels        Optional[map[string]*string]
	DefaultAction Optional[Action]
}

// Apply returns cur with the patch applied, validated. cur is not changed.
func (p FirewallPatch) Apply(cur Firewall) (Firewall, error) {
	var ps Problems
	p.Name.required(&ps, "name")
	if err := ps.Err("the patch is not valid"); err != nil {
		return Firewall{}, err
	}
	def := NewFirewall()
	next := cur
	next.Name = p.Name.or(cur.Name, "")
	next.Description = p.Description.or(cur.Description, def.Description)
	next.DefaultAction = p.DefaultAction.or(cur.DefaultAction, def.DefaultAction)
	next.Labels = make(map[string]string, len(cur.Labels))
	if !p.Labels.Null {
		maps.Copy(next.Labels, cur.Labels)
	}
	for k, v := range p.Labels.Value {
		if v == nil {
			delete(next.Labels, k)
			continue
		}
		next.Labels[k] = *v
	}
	if err := next.Validate(); err != nil {
		return Firewall{}, err
	}
	return next, nil
}

// PolicyPatch is a merge patch of a filtering policy's writable fields. A
// null description, default_action or enabled resets it to the model's
// default.
type PolicyPatch struct {
	Name          Optional[string] `json:"name,omitzero"`
	Description   Optional[string] `json:"description,omitzero"`
	Priority      Optional[int]    `json:"priority,omitzero"`
	DefaultAction Optional[Action] `json:"default_action,omitzero"`
	Enabled       Optional[bool]   `json:"enabled,omitzero"`
}

// Apply returns cur with the patch applied, validated.
func (p PolicyPatch) Apply(cur Policy) (Policy, error) {
	var ps Problems
	p.Name.required(&ps, "name")
	p.Priority.required(&ps, "priority")
	if err := ps.Err("the patch is not valid"); err != nil {
		return Policy{}, err
	}
	def := NewPolicy()
	next := cur
	next.Name = p.Name.or(cur.Name, "")
	next.Description = p.Description.or(cur.Description, def.Description)
	next.Priority = p.Priority.or(cur.Priority, 0)
	next.DefaultAction = p.DefaultAction.or(cur.DefaultAction, def.DefaultAction)
	next.Enabled = p.Enabled.or(cur.Enabled, def.Enabled)
	if err := next.Validate(); err != nil {
		return Policy{}, err
	}
	return next, nil
}

// RulePatch is a merge patch of a rule's writable fields. Lists are given
// as text and replaced whole; null empties a list (any), and resets the
// other fields to the model's defaults. The position changes only by a
// move, never by a patch.
type RulePatch struct {
	Name             Optional[string]   `json:"name,omitzero"`
	Description      Optional[string]   `json:"description,omitzero"`
	Action           Optional[Action]   `json:"action,omitzero"`
	Protocol         Optional[Protocol] `json:"protocol,omitzero"`
	Sources          Optional[[]string] `json:"sources,omitzero"`
	Destinations     Optional[[]string] `json:"destinations,omitzero"`
	SourcePorts      Optional[[]string] `json:"source_ports,omitzero"`
	DestinationPorts Optional[[]string] `json:"destination_ports,omitzero"`
	// The group lists hold group ids or names (see ParseGroupRefs).
	SourceGroups      Optional[[]string]  `json:"source_groups,omitzero"`
	DestinationGroups Optional[[]string]  `json:"destination_groups,omitzero"`
	ServiceGroups     Optional[[]string]  `json:"service_groups,omitzero"`
	Enabled           Optional[bool]      `json:"enabled,omitzero"`
	ExpiresAt         Optional[time.Time] `json:"expires_at,omitzero"`
}

// Apply returns cur with the patch applied. It reports the problems of
// parsing the lists and of the resulting rule together, so that a client
// learns of a bad CIDR and of ports with icmp in one answer.
func (p RulePatch) Apply(cur Rule) (Rule, error) {
	var ps Problems
	p.Action.required(&ps, "action")
	if err := ps.Err("the patch is not valid"); err != nil {
		return Rule{}, err
	}
	def := NewRule()
	next := cur
	next.Name = p.Name.or(cur.Name, "")
	next.Description = p.Description.or(cur.Description, def.Description)
	next.Action = p.Action.or(cur.Action, "")
	next.Protocol = p.Protocol.or(cur.Protocol, def.Protocol)
	next.Enabled = p.Enabled.or(cur.Enabled, def.Enabled)
	next.Sources = patchPrefixes("sources", p.Sources, cur.Sources, &ps)
	next.Destinations = patchPrefixes("destinations", p.Destinations, cur.Destinations, &ps)
	next.SourcePorts = patchPorts("source_ports", p.SourcePorts, cur.SourcePorts, &ps)
	next.DestinationPorts = patchPorts("destination_ports", p.DestinationPorts, cur.DestinationPorts, &ps)
	next.SourceGroups = patchRefs("source_groups", p.SourceGroups, cur.SourceGroups, &ps)
	next.DestinationGroups = patchRefs("destination_groups", p.DestinationGroups, cur.DestinationGroups, &ps)
	next.ServiceGroups = patchRefs("service_groups", p.ServiceGroups, cur.ServiceGroups, &ps)
	switch {
	case p.ExpiresAt.Null:
		next.ExpiresAt = nil
	case p.ExpiresAt.Set:
		// The stores keep microseconds; a finer time would not read back equal.
		t := p.ExpiresAt.Value.UTC().Truncate(time.Microsecond)
		next.ExpiresAt = &t
	}
	next.Check(&ps)
	if err := ps.Err("the rule is not valid"); err != nil {
		return Rule{}, err
	}
	return next, nil
}

// patchPrefixes returns the patched list: cur when left out, else the
// given list parsed (empty when null). It is never nil, as a parsed list is not.
func patchPrefixes(location string, o Optional[[]string], cur []netip.Prefix, ps *Problems) []netip.Prefix {
	if !o.Set {
		if cur == nil {
			return []netip.Prefix{}
		}
		return cur
	}
	return ParsePrefixes(location, o.Value, ps)
}

// patchPorts is patchPrefixes for port lists.
func patchPorts(location string, o Optional[[]string], cur []PortRange, ps *Problems) []PortRange {
	if !o.Set {
		if cur == nil {
			return []PortRange{}
		}
		return cur
	}
	return ParsePortRanges(location, o.Value, ps)
}

// patchRefs is patchPrefixes for group references.
func patchRefs(location string, o Optional[[]string], cur []GroupRef, ps *Problems) []GroupRef {
	if !o.Set {
		return cur
	}
	return ParseGroupRefs(location, o.Value, ps)
}
