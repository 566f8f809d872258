package analysis

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/fireflow/fireflow/internal/firewall"
)

// GroupUse is a group a finding's rule refers to, and through which field.
type GroupUse struct {
	// Field is "source", "destination" or "service".
	Field string `json:"field"`
	ID    string `json:"id"`
	Name  string `json:"name"`
}

// ruleSets is a rule's match lists with its groups expanded: the source
// and destination sets (empty: any) and the services of its service groups
// (nil: the rule's own protocol and ports decide alone).
type ruleSets struct {
	src, dst []netip.Prefix
	svcs     []firewall.Service
}

func expandRule(g *firewall.Groups, r *firewall.Rule) ruleSets {
	return ruleSets{src: g.RuleSources(r), dst: g.RuleDestinations(r), svcs: g.RuleServices(r)}
}

// serviceDports returns, within class c, the union of the destination ports
// of the services that can match a flow of c, or nil when none can. A
// service without ports takes every port of c; in a class without ports,
// a service with ports matches nothing (the flow's port is 0).
func serviceDports(svcs []firewall.Service, c class) []iv {
	var l []iv
	for _, s := range svcs {
		if s.Protocol != firewall.AnyProtocol && s.Protocol != c.protocol() {
			continue
		}
		switch {
		case !c.hasPorts():
			if len(s.Ports) == 0 {
				l = append(l, noPorts)
			}
		case len(s.Ports) == 0:
			l = append(l, allPorts)
		default:
			if pl, ok := portList(s.Ports); ok {
				l = append(l, pl...)
			}
		}
	}
	return normalize(l)
}

// withServices narrows s, a rule's shape in class c, to the flows one of
// svcs matches: nil when none does.
func withServices(s *shape, c class, svcs []firewall.Service) *shape {
	dp := serviceDports(svcs, c)
	if len(dp) == 0 {
		return nil
	}
	return intersectShapes(s, &shape{s[dimSrc], s[dimDst], s[dimSport], dp})
}

// ruleGroups lists the groups rule r refers to, directly, in field order.
func (m *Model) ruleGroups(r *firewall.Rule) []GroupUse {
	var out []GroupUse
	for _, f := range []struct {
		field string
		refs  []firewall.GroupRef
	}{{"source", r.SourceGroups}, {"destination", r.DestinationGroups}, {"service", r.ServiceGroups}} {
		for _, ref := range f.refs {
			out = append(out, GroupUse{Field: f.field, ID: ref.ID, Name: m.groupName(f.field, ref)})
		}
	}
	return out
}

// groupName is the name of the group ref points to, from the tree's groups
// when the reference carries only the id.
func (m *Model) groupName(field string, ref firewall.GroupRef) string {
	if ref.Name != "" {
		return ref.Name
	}
	if field == "service" {
		if g, ok := m.tree.Groups.Service[ref.ID]; ok && g.Name != "" {
			return g.Name
		}
	} else if g, ok := m.tree.Groups.Address[ref.ID]; ok && g.Name != "" {
		return g.Name
	}
	return ref.ID
}

// groupNote says which groups r refers to, as "source group web-servers;
// service groups https, dns", or "" when it refers to none: a finding about
// a rule written against groups is read against those groups.
func (m *Model) groupNote(r *firewall.Rule) string {
	uses := m.ruleGroups(r)
	if len(uses) == 0 {
		return ""
	}
	var parts []string
	for i := 0; i < len(uses); {
		j := i
		var names []string
		for ; j < len(uses) && uses[j].Field == uses[i].Field; j++ {
			names = append(names, uses[j].Name)
		}
		noun := " group "
		if len(names) > 1 {
			noun = " groups "
		}
		parts = append(parts, uses[i].Field+noun+strings.Join(names, ", "))
		i = j
	}
	return strings.Join(parts, "; ")
}

// ruleRef is a rule as a message names it: its id, with the groups it
// refers to.
func (m *Model) ruleRef(id string) string {
	i, ok := m.byRule[id]
	if !ok {
		return id
	}
	if note := m.groupNote(m.items[i].rule); note != "" {
		return fmt.Sprintf("%s, %s", id, note)
	}
	return id
}

// whyEmpty says why a rule's match set is empty, through its groups when
// it has any: their members, not the rule's literal fields, leave it empty.
func (m *Model) whyEmpty(r *firewall.Rule) string {
	if len(r.ServiceGroups) > 0 {
		return "no service of its service groups meets its address families (" + m.groupNote(r) + ")"
	}
	if len(r.SourceGroups)+len(r.DestinationGroups) > 0 {
		return "its sources and destinations, groups expanded, leave no address family in common with its protocol (" + m.groupNote(r) + ")"
	}
	return whyEmpty(r)
}
