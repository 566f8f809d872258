package engine

import (
	"net/netip"

	"github.com/fireflow/fireflow/internal/firewall"
)

// ruleGroups holds a rule's groups, expanded, so that explain can name the
// group through which the rule matched a flow.
type ruleGroups struct {
	src, dst []namedPrefixes
	svc      []namedServices
}

type namedPrefixes struct {
	name     string
	prefixes []netip.Prefix
}

type namedServices struct {
	name     string
	services []firewall.Service
}

// name sets the step's group fields: the first group of each field that
// holds the flow's value.
func (rg *ruleGroups) name(st *firewall.Step, f *firewall.Flow) {
	st.SourceGroup = firstHolding(rg.src, f.Source)
	st.DestinationGroup = firstHolding(rg.dst, f.Destination)
	for _, s := range rg.svc {
		if len(s.services) == 0 {
			continue
		}
		for _, sv := range s.services {
			if sv.Matches(f.Protocol, f.DestinationPort) {
				st.ServiceGroup = s.name
				return
			}
		}
	}
}

func firstHolding(groups []namedPrefixes, a netip.Addr) string {
	for _, g := range groups {
		for _, p := range g.prefixes {
			if p.IsValid() && p.Contains(a) {
				return g.name
			}
		}
	}
	return ""
}

// addGrouped adds a rule that refers to groups: its sources and
// destinations are its literal lists plus its groups' members, and its
// service groups, when it has some, replace its protocol and ports. Groups
// without members leave a set empty, which means any, as the domain says.
func (b *builder) addGrouped(r *firewall.Rule, pol int32, g *firewall.Groups) {
	x := *r
	var rg ruleGroups
	x.Sources, rg.src = b.unionOf(r.Sources, r.SourceGroups, g)
	x.Destinations, rg.dst = b.unionOf(r.Destinations, r.DestinationGroups, g)
	var svcs []firewall.Service
	for _, ref := range r.ServiceGroups {
		members := b.services(ref.ID, g)
		rg.svc = append(rg.svc, namedServices{name: groupName(ref, g.Service[ref.ID].Name), services: members})
		svcs = append(svcs, members...)
	}
	// No services at all means any, which the rule's own protocol (any,
	// no ports, as validation keeps it) already says.
	if len(svcs) == 0 {
		svcs = nil
	}
	b.pendingGroups = int32(len(b.m.groups))
	b.m.groups = append(b.m.groups, rg)
	b.addRule(&x, pol, svcs)
	b.pendingGroups = -1
}

func groupName(ref firewall.GroupRef, stored string) string {
	if stored != "" {
		return stored
	}
	if ref.Name != "" {
		return ref.Name
	}
	return ref.ID
}

// unionOf returns literal plus the members of refs, and the members of
// each group by name.
func (b *builder) unionOf(literal []netip.Prefix, refs []firewall.GroupRef, g *firewall.Groups) ([]netip.Prefix, []namedPrefixes) {
	if len(refs) == 0 {
		return literal, nil
	}
	out := append([]netip.Prefix(nil), literal...)
	named := make([]namedPrefixes, 0, len(refs))
	for _, ref := range refs {
		members := b.addresses(ref.ID, g)
		named = append(named, namedPrefixes{name: groupName(ref, g.Address[ref.ID].Name), prefixes: members})
		out = append(out, members...)
	}
	return out, named
}

// addresses returns the expanded members of address group id, once per
// compile.
func (b *builder) addresses(id string, g *firewall.Groups) []netip.Prefix {
	if ps, ok := b.addrCache[id]; ok {
		return ps
	}
	if b.addrCache == nil {
		b.addrCache = map[string][]netip.Prefix{}
	}
	ps := g.Addresses(id)
	b.addrCache[id] = ps
	return ps
}

// services returns the expanded services of service group id, once per
// compile.
func (b *builder) services(id string, g *firewall.Groups) []firewall.Service {
	if ss, ok := b.svcCache[id]; ok {
		return ss
	}
	if b.svcCache == nil {
		b.svcCache = map[string][]firewall.Service{}
	}
	ss := g.Services(id)
	b.svcCache[id] = ss
	return ss
}
