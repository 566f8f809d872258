package fwgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/fireflow/fireflow/internal/firewall"
)

// AddGroups rewrites t's rules to use nGroups random nested address groups
// and nGroups/2 service groups: some rules move their literal addresses or
// their tcp/udp ports into a group, others gain groups beside their
// literals, and a few refer to groups without members (an empty union means
// any). Groups nest earlier groups only, with shared children (diamonds),
// up to a few levels deep. Members come from the tree's own prefixes and
// ports, so that flows drawn for the original tree (NewFlows, called
// before AddGroups) hit their edges.
func AddGroups(r *rand.Rand, t *firewall.Tree, nGroups int) {
	var pool []netip.Prefix
	var ports []firewall.PortRange
	for _, pt := range t.Policies {
		for _, rule := range pt.Rules {
			pool = append(pool, rule.Sources...)
			pool = append(pool, rule.Destinations...)
			ports = append(ports, rule.DestinationPorts...)
		}
	}
	pool = append(pool, netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"))
	ports = append(ports, firewall.PortRange{Low: 443, High: 443}, firewall.PortRange{Low: 1, High: 1024})
	g := firewall.Groups{Address: map[string]firewall.AddressGroup{}, Service: map[string]firewall.ServiceGroup{}}
	var addrIDs, svcIDs []string
	nest := func(ids []string) []firewall.GroupRef {
		var refs []firewall.GroupRef
		if len(ids) == 0 {
			return refs
		}
		for range r.IntN(3) {
			id := pick(r, ids)
			refs = append(refs, firewall.GroupRef{ID: id, Name: "name-of-" + id})
		}
		return refs
	}
	for i := range max(1, nGroups) {
		ag := firewall.AddressGroup{Name: fmt.Sprintf("ag-%d", i)}
		ag.ID = fmt.Sprintf("ag-id-%d", i)
		for range r.IntN(5) {
			ag.Addresses = append(ag.Addresses, pick(r, pool))
		}
		ag.Groups = nest(addrIDs)
		g.Address[ag.ID] = ag
		addrIDs = append(addrIDs, ag.ID)
	}
	protos := []firewall.Protocol{firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6}
	for i := range max(1, nGroups/2) {
		sg := firewall.ServiceGroup{Name: fmt.Sprintf("sg-%d", i)}
		sg.ID = fmt.Sprintf("sg-id-%d", i)
		for range r.IntN(4) {
			s := firewall.Service{Protocol: pick(r, protos)}
			if s.Protocol.HasPorts() && r.IntN(3) > 0 {
				for range 1 + r.IntN(2) {
					s.Ports = append(s.Ports, pick(r, ports))
				}
			}
			sg.Services = append(sg.Services, s)
		}
		sg.Groups = nest(svcIDs)
		g.Service[sg.ID] = sg
		svcIDs = append(svcIDs, sg.ID)
	}
	ref := func(id string) firewall.GroupRef { return firewall.GroupRef{ID: id, Name: "name-of-" + id} }
	extra := 0
	// moveInto puts list into a new group of its own and returns the reference.
	moveInto := func(list []netip.Prefix) firewall.GroupRef {
		ag := firewall.AddressGroup{Name: fmt.Sprintf("moved-%d", extra), Addresses: list}
		ag.ID = fmt.Sprintf("moved-id-%d", extra)
		extra++
		if r.IntN(2) == 0 {
			ag.Groups = nest(addrIDs)
		}
		g.Address[ag.ID] = ag
		return ref(ag.ID)
	}
	for pi := range t.Policies {
		for ri := range t.Policies[pi].Rules {
			rule := &t.Policies[pi].Rules[ri]
			switch r.IntN(4) {
			case 0:
				if len(rule.Sources) > 0 {
					rule.SourceGroups = append(rule.SourceGroups, moveInto(rule.Sources))
					rule.Sources = nil
				}
			case 1:
				rule.SourceGroups = append(rule.SourceGroups, ref(pick(r, addrIDs)))
			}
			switch r.IntN(4) {
			case 0:
				if len(rule.Destinations) > 0 {
					rule.DestinationGroups = append(rule.DestinationGroups, moveInto(rule.Destinations))
					rule.Destinations = nil
				}
			case 1:
				rule.DestinationGroups = append(rule.DestinationGroups, ref(pick(r, addrIDs)), ref(pick(r, addrIDs)))
			}
			if len(rule.SourcePorts) > 0 {
				continue // service groups never sit beside source ports
			}
			switch {
			case rule.Protocol == firewall.AnyProtocol && len(rule.DestinationPorts) == 0 && r.IntN(3) == 0:
				rule.ServiceGroups = []firewall.GroupRef{ref(pick(r, svcIDs))}
				if r.IntN(2) == 0 {
					rule.ServiceGroups = append(rule.ServiceGroups, ref(pick(r, svcIDs)))
				}
			case rule.Protocol.HasPorts() && r.IntN(3) == 0:
				sg := firewall.ServiceGroup{Name: fmt.Sprintf("moved-svc-%d", extra),
					Services: []firewall.Service{{Protocol: rule.Protocol, Ports: rule.DestinationPorts}}}
				sg.ID = fmt.Sprintf("moved-svc-id-%d", extra)
				extra++
				g.Service[sg.ID] = sg
				rule.ServiceGroups = []firewall.GroupRef{ref(sg.ID)}
				rule.Protocol, rule.DestinationPorts = firewall.AnyProtocol, nil
			}
		}
	}
	t.Groups = g
}
