package firewall

import (
	"fmt"
	"net/netip"
)

// Limits on named objects, shared by validation and the API documentation.
const (
	// MaxGroupMembers bounds the literal members (addresses or services) of one group.
	MaxGroupMembers = 1024
	// MaxGroupRefs bounds the groups one group or one rule field refers to.
	MaxGroupRefs = 64
	// MaxGroupDepth bounds nesting: a group that refers to a group that
	// refers to a group … at most this many levels deep, counting itself.
	MaxGroupDepth = 8
	// MaxGroupExpanded bounds the members of one group with its nesting expanded.
	MaxGroupExpanded = 16384
)

// GroupRef points from a rule or a group to a group. Input may give the id
// or the name; what the service stores and answers carries both, so that
// tree documents kept in git read well and survive renames by id.
type GroupRef struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// AddressGroup is a named set of addresses that rules of any firewall share.
type AddressGroup struct {
	Meta
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	Addresses   []netip.Prefix    `json:"addresses"`
	Groups      []GroupRef        `json:"groups"` // nested address groups
}

// Service is one member of a service group: a protocol and, for tcp and
// udp, the destination ports (none means every port).
type Service struct {
	Protocol Protocol    `json:"protocol"`
	Ports    []PortRange `json:"ports"`
}

// Matches reports whether a flow of protocol p to destination port port is
// in the service.
func (s Service) Matches(p Protocol, port uint16) bool {
	if s.Protocol != AnyProtocol && s.Protocol != p {
		return false
	}
	if len(s.Ports) == 0 {
		return true
	}
	for _, r := range s.Ports {
		if r.Contains(port) {
			return true
		}
	}
	return false
}

// ServiceGroup is a named set of services that rules of any firewall share.
type ServiceGroup struct {
	Meta
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	Services    []Service         `json:"services"`
	Groups      []GroupRef        `json:"groups"` // nested service groups
}

// Groups holds groups by id: those a tree's rules use, with every group
// nested inside them. A nil Groups is an empty one.
type Groups struct {
	Address map[string]AddressGroup
	Service map[string]ServiceGroup
}

// Validate checks g's own fields; references and cycles need the other
// groups and are checked where they are stored.
func (g *AddressGroup) Validate() error {
	var ps Problems
	checkGroupHead(&ps, g.Name, g.Description, g.Labels, g.Groups)
	if len(g.Addresses) > MaxGroupMembers {
		ps.Add("addresses", len(g.Addresses), "at most %d addresses are allowed, got %d", MaxGroupMembers, len(g.Addresses))
	}
	return ps.Err("the address group is not valid")
}

// Validate checks g's own fields; references and cycles need the other
// groups and are checked where they are stored.
func (g *ServiceGroup) Validate() error {
	var ps Problems
	checkGroupHead(&ps, g.Name, g.Description, g.Labels, g.Groups)
	if len(g.Services) > MaxGroupMembers {
		ps.Add("services", len(g.Services), "at most %d services are allowed, got %d", MaxGroupMembers, len(g.Services))
	}
	for i, s := range g.Services {
		loc := fmt.Sprintf("services[%d]", i)
		switch s.Protocol {
		case AnyProtocol, TCP, UDP, ICMP, ICMPv6:
			checkPorts(&ps, loc+".ports", s.Ports, s.Protocol)
		default:
			ps.Add(loc+".protocol", string(s.Protocol), "protocol must be one of any, tcp, udp, icmp, icmpv6")
		}
	}
	return ps.Err("the service group is not valid")
}

func checkGroupHead(ps *Problems, name, description string, labels map[string]string, refs []GroupRef) {
	checkName(ps, "name", name, true)
	checkDescription(ps, description)
	checkLabels(ps, labels)
	checkRefs(ps, "groups", refs)
}

// checkRefs checks that each reference names a group by id or by name.
func checkRefs(ps *Problems, location string, refs []GroupRef) {
	if len(refs) > MaxGroupRefs {
		ps.Add(location, len(refs), "at most %d groups are allowed, got %d", MaxGroupRefs, len(refs))
	}
	for i, r := range refs {
		if r.ID == "" && r.Name == "" {
			ps.Add(fmt.Sprintf("%s[%d]", location, i), "", "a group reference needs an id or a name")
		}
	}
}

// Addresses returns the prefixes of address group id with its nested groups
// expanded, each once, in order of first appearance. A group met twice,
// even through a cycle, is expanded once.
func (g Groups) Addresses(id string) []netip.Prefix {
	var out []netip.Prefix
	seenPrefix := map[netip.Prefix]bool{}
	seenGroup := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seenGroup[id] {
			return
		}
		seenGroup[id] = true
		ag := g.Address[id]
		for _, p := range ag.Addresses {
			if !seenPrefix[p] {
				seenPrefix[p] = true
				out = append(out, p)
			}
		}
		for _, r := range ag.Groups {
			walk(r.ID)
		}
	}
	walk(id)
	return out
}

// Services returns the services of service group id with its nested groups
// expanded, in order of first appearance, each group expanded once.
func (g Groups) Services(id string) []Service {
	var out []Service
	seenGroup := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seenGroup[id] {
			return
		}
		seenGroup[id] = true
		sg := g.Service[id]
		out = append(out, sg.Services...)
		for _, r := range sg.Groups {
			walk(r.ID)
		}
	}
	walk(id)
	return out
}

// RuleSources returns r's source set: its literal sources plus the expanded
// members of its source groups. Empty means any source.
func (g Groups) RuleSources(r *Rule) []netip.Prefix {
	return g.union(r.Sources, r.SourceGroups)
}

// RuleDestinations returns r's destination set: its literal destinations
// plus the expanded members of its destination groups. Empty means any.
func (g Groups) RuleDestinations(r *Rule) []netip.Prefix {
	return g.union(r.Destinations, r.DestinationGroups)
}

func (g Groups) union(literal []netip.Prefix, refs []GroupRef) []netip.Prefix {
	if len(refs) == 0 {
		return literal
	}
	out := append([]netip.Prefix(nil), literal...)
	seen := make(map[netip.Prefix]bool, len(out))
	for _, p := range out {
		seen[p] = true
	}
	for _, ref := range refs {
		for _, p := range g.Addresses(ref.ID) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// RuleServices returns the services of r's service groups, expanded, or nil
// when r has none and its protocol and destination ports decide alone.
// Validation keeps a rule with service groups at protocol any with no ports,
// so the groups are its whole service set. Groups without members leave the
// set empty, which means any service, as an empty address union means any
// address.
func (g Groups) RuleServices(r *Rule) []Service {
	if len(r.ServiceGroups) == 0 {
		return nil
	}
	var out []Service
	for _, ref := range r.ServiceGroups {
		out = append(out, g.Services(ref.ID)...)
	}
	return out
}
