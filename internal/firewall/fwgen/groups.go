package fwgen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"

	"github.com/fireflow/fireflow/internal/firewall"
)

// ---------------------------------------------------------------------------
// Named objects: random nested address and service groups over a tree's
// own prefixes and services, so that group members overlap the literal
// entries of other rules and the differential tests meet every corner
// (literal ∪ group, nesting, shared and empty groups).

// Groups adds up to nAddress address groups and nService service groups to
// t and makes its rules use them: some rules move their literal sources or
// destinations into a group (so the rule matches what it matched before),
// some add a reference to a group drawn at random, and rules at protocol
// any without ports may take service groups. Groups nest (a DAG, at most
// four levels deep) and some are empty. The members come from the tree's
// own prefixes and services, so flows drawn for the expanded tree (see
// Expand) reach their edges.
func Groups(r *rand.Rand, t *firewall.Tree, nAddress, nService int) {
	var pool []netip.Prefix
	var svcPool []firewall.Service
	eachRule(t, func(rule *firewall.Rule) {
		pool = append(pool, rule.Sources...)
		pool = append(pool, rule.Destinations...)
		if rule.Protocol != firewall.AnyProtocol || len(rule.DestinationPorts) > 0 {
			svcPool = append(svcPool, firewall.Service{Protocol: rule.Protocol, Ports: rule.DestinationPorts})
		}
	})
	pool = slices.DeleteFunc(pool, func(p netip.Prefix) bool { return !p.IsValid() || p.Masked() != p })
	if len(pool) == 0 {
		pool = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	}
	svcPool = append(svcPool,
		firewall.Service{Protocol: firewall.TCP, Ports: []firewall.PortRange{{Low: 443, High: 443}}},
		firewall.Service{Protocol: firewall.UDP, Ports: []firewall.PortRange{{Low: 53, High: 53}}},
		firewall.Service{Protocol: firewall.ICMP}, firewall.Service{Protocol: firewall.ICMPv6},
		firewall.Service{Protocol: firewall.TCP})
	svcPool = slices.DeleteFunc(svcPool, func(s firewall.Service) bool { return !validService(s) })

	g := firewall.Groups{Address: map[string]firewall.AddressGroup{}, Service: map[string]firewall.ServiceGroup{}}
	var addrIDs, svcIDs []string
	for i := range nAddress {
		ag := firewall.AddressGroup{Name: fmt.Sprintf("net-%d %s", i, pick(r, []string{"web", "db", "dns", "Ops/Team", "x"})), Labels: map[string]string{}}
		ag.ID = fmt.Sprintf("ag-%04d", i)
		if r.IntN(8) != 0 {
			for range 1 + r.IntN(4) {
				ag.Addresses = append(ag.Addresses, pick(r, pool))
			}
		}
		ag.Groups = nestRefs(r, addrIDs, func(id string) string { return g.Address[id].Name })
		g.Address[ag.ID] = ag
		addrIDs = append(addrIDs, ag.ID)
	}
	for i := range nService {
		sg := firewall.ServiceGroup{Name: fmt.Sprintf("svc-%d", i), Labels: map[string]string{}}
		sg.ID = fmt.Sprintf("sg-%04d", i)
		if r.IntN(8) != 0 {
			for range 1 + r.IntN(3) {
				sg.Services = append(sg.Services, pick(r, svcPool))
			}
		}
		sg.Groups = nestRefs(r, svcIDs, func(id string) string { return g.Service[id].Name })
		g.Service[sg.ID] = sg
		svcIDs = append(svcIDs, sg.ID)
	}
	seq := 0
	newAddrGroup := func(members []netip.Prefix) firewall.GroupRef {
		seq++
		ag := firewall.AddressGroup{Name: fmt.Sprintf("moved-%d", seq), Labels: map[string]string{}, Addresses: members}
		ag.ID = fmt.Sprintf("agm-%04d", seq)
		if len(addrIDs) > 0 && r.IntN(3) == 0 {
			ag.Groups = []firewall.GroupRef{{ID: pick(r, addrIDs)}}
			ag.Groups[0].Name = g.Address[ag.Groups[0].ID].Name
		}
		g.Address[ag.ID] = ag
		return firewall.GroupRef{ID: ag.ID, Name: ag.Name}
	}
	addrRef := func() firewall.GroupRef {
		id := pick(r, addrIDs)
		return firewall.GroupRef{ID: id, Name: g.Address[id].Name}
	}
	eachRule(t, func(rule *firewall.Rule) {
		for _, side := range []struct {
			lits *[]netip.Prefix
			refs *[]firewall.GroupRef
		}{{&rule.Sources, &rule.SourceGroups}, {&rule.Destinations, &rule.DestinationGroups}} {
			switch r.IntN(5) {
			case 0: // move some literals into a fresh group: the same set
				if n := len(*side.lits); n > 0 {
					k := 1 + r.IntN(n)
					*side.refs = append(*side.refs, newAddrGroup(slices.Clone((*side.lits)[n-k:])))
					*side.lits = (*side.lits)[:n-k]
				}
			case 1, 2: // reference shared groups
				if len(addrIDs) > 0 {
					for range 1 + r.IntN(2) {
						*side.refs = append(*side.refs, addrRef())
					}
				}
			}
		}
		if rule.Protocol == firewall.AnyProtocol && len(rule.SourcePorts) == 0 && len(rule.DestinationPorts) == 0 && len(svcIDs) > 0 && r.IntN(2) == 0 {
			for range 1 + r.IntN(2) {
				id := pick(r, svcIDs)
				rule.ServiceGroups = append(rule.ServiceGroups, firewall.GroupRef{ID: id, Name: g.Service[id].Name})
			}
		} else if rule.Protocol.HasPorts() && len(rule.SourcePorts) == 0 && len(svcIDs) > 0 && r.IntN(4) == 0 {
			// The rule's own service becomes a group of one.
			seq++
			sg := firewall.ServiceGroup{Name: fmt.Sprintf("own-%d", seq), Labels: map[string]string{},
				Services: []firewall.Service{{Protocol: rule.Protocol, Ports: rule.DestinationPorts}}}
			sg.ID = fmt.Sprintf("sgm-%04d", seq)
			if validService(sg.Services[0]) {
				g.Service[sg.ID] = sg
				rule.Protocol, rule.DestinationPorts = firewall.AnyProtocol, nil
				rule.ServiceGroups = []firewall.GroupRef{{ID: sg.ID, Name: sg.Name}}
			}
		}
	})
	t.Groups = g
}

// nestRefs draws references to up to two earlier groups (so nesting is a
// DAG), keeping chains short.
func nestRefs(r *rand.Rand, earlier []string, name func(string) string) []firewall.GroupRef {
	if len(earlier) == 0 || r.IntN(3) != 0 {
		return nil
	}
	var out []firewall.GroupRef
	for range 1 + r.IntN(2) {
		// Prefer recent groups, which are themselves often nested.
		id := earlier[max(0, len(earlier)-1-r.IntN(4))]
		out = append(out, firewall.GroupRef{ID: id, Name: name(id)})
	}
	return out
}

// validService reports whether s passes validation (ports only with tcp or
// udp, each range within 1-65535).
func validService(s firewall.Service) bool {
	switch s.Protocol {
	case firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6:
	default:
		return false
	}
	if len(s.Ports) > 0 && !s.Protocol.HasPorts() {
		return false
	}
	for _, pr := range s.Ports {
		if pr.Low == 0 || pr.Low > pr.High {
			return false
		}
	}
	return true
}

func eachRule(t *firewall.Tree, f func(*firewall.Rule)) {
	for i := range t.Policies {
		for j := range t.Policies[i].Rules {
			f(&t.Policies[i].Rules[j])
		}
	}
}

// Expand returns t with every group reference replaced by the group's
// members, by a plain walk written apart from firewall.Groups: sources and
// destinations become literal lists, and a rule with service groups becomes
// one rule per service, each keeping the rule's id and position, in the
// order of the services (the first that matches decides, as the union
// does). A rule whose service groups expand to nothing keeps matching any
// service. The result has no groups and decides every flow as t does, rule
// ids included, so a reference or the engine without groups can judge it.
func Expand(t firewall.Tree) firewall.Tree {
	out := t
	out.Groups = firewall.Groups{}
	out.Policies = make([]firewall.PolicyTree, len(t.Policies))
	for i, pt := range t.Policies {
		out.Policies[i].Policy = pt.Policy
		for _, rule := range pt.Rules {
			out.Policies[i].Rules = append(out.Policies[i].Rules, expandRule(&t.Groups, rule)...)
		}
	}
	return out
}

func expandRule(g *firewall.Groups, rule firewall.Rule) []firewall.Rule {
	rule.Sources = append(slices.Clone(rule.Sources), AddressMembers(g, rule.SourceGroups)...)
	rule.Destinations = append(slices.Clone(rule.Destinations), AddressMembers(g, rule.DestinationGroups)...)
	svcs := ServiceMembers(g, rule.ServiceGroups)
	rule.SourceGroups, rule.DestinationGroups, rule.ServiceGroups = nil, nil, nil
	if len(svcs) == 0 {
		return []firewall.Rule{rule}
	}
	var out []firewall.Rule
	for _, s := range svcs {
		x := rule
		switch {
		case rule.Protocol == firewall.AnyProtocol:
			x.Protocol = s.Protocol
		case s.Protocol != firewall.AnyProtocol && s.Protocol != rule.Protocol:
			continue // no flow is in both
		}
		if len(s.Ports) > 0 {
			if len(rule.DestinationPorts) > 0 {
				x.DestinationPorts = intersectPorts(rule.DestinationPorts, s.Ports)
				if len(x.DestinationPorts) == 0 {
					continue
				}
			} else {
				x.DestinationPorts = s.Ports
			}
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		// Nothing is in both: keep one rule that matches no flow, so the
		// rule id stays in the tree.
		x := rule
		x.Protocol, x.Sources = firewall.ICMP, []netip.Prefix{netip.MustParsePrefix("2001:db8::/128")}
		out = append(out, x)
	}
	return out
}

func intersectPorts(a, b []firewall.PortRange) []firewall.PortRange {
	var out []firewall.PortRange
	for _, x := range a {
		for _, y := range b {
			lo, hi := max(x.Low, y.Low), min(x.High, y.High)
			if lo <= hi && lo >= 1 && x.Low <= x.High && y.Low <= y.High {
				out = append(out, firewall.PortRange{Low: lo, High: hi})
			}
		}
	}
	return out
}

// AddressMembers returns the members of the address groups refs names,
// nesting walked plainly, each group once: a reference apart from
// firewall.Groups for tests to judge against.
func AddressMembers(g *firewall.Groups, refs []firewall.GroupRef) []netip.Prefix {
	var out []netip.Prefix
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		out = append(out, g.Address[id].Addresses...)
		for _, ref := range g.Address[id].Groups {
			walk(ref.ID)
		}
	}
	for _, ref := range refs {
		walk(ref.ID)
	}
	return out
}

// ServiceMembers returns the services of the service groups refs names,
// nesting walked plainly, each group once.
func ServiceMembers(g *firewall.Groups, refs []firewall.GroupRef) []firewall.Service {
	var out []firewall.Service
	seen := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		out = append(out, g.Service[id].Services...)
		for _, ref := range g.Service[id].Groups {
			walk(ref.ID)
		}
	}
	for _, ref := range refs {
		walk(ref.ID)
	}
	return out
}

// RealisticGroups returns Realistic(seed, nRules, false) rewritten against
// nGroups address groups of up to maxMembers members each (drawn from the
// tree's own prefixes, a tenth of them nesting another group): most rules
// with literal sources or destinations refer to one or two groups there
// instead. It is the benchmark shape of named objects; Expand gives the
// same firewall without groups.
func RealisticGroups(seed uint64, nRules, nGroups, maxMembers int) firewall.Tree {
	t := Realistic(seed, nRules, false)
	r := rand.New(rand.NewPCG(seed, 17))
	var v4, v6 []netip.Prefix
	eachRule(&t, func(rule *firewall.Rule) {
		for _, p := range slices.Concat(rule.Sources, rule.Destinations) {
			if p.Addr().Is4() {
				v4 = append(v4, p)
			} else {
				v6 = append(v6, p)
			}
		}
	})
	if len(v4) == 0 || len(v6) == 0 || nGroups == 0 {
		return t
	}
	g := firewall.Groups{Address: map[string]firewall.AddressGroup{}, Service: map[string]firewall.ServiceGroup{}}
	ids := make([]string, nGroups)
	for i := range nGroups {
		ag := firewall.AddressGroup{Name: fmt.Sprintf("objects-%04d", i), Labels: map[string]string{}}
		ag.ID = fmt.Sprintf("ag-%05d", i)
		for range 1 + r.IntN(maxMembers) {
			if r.IntN(5) == 0 {
				ag.Addresses = append(ag.Addresses, pick(r, v6))
			} else {
				ag.Addresses = append(ag.Addresses, pick(r, v4))
			}
		}
		if i > 0 && r.IntN(10) == 0 {
			ag.Groups = []firewall.GroupRef{{ID: ids[r.IntN(i)]}}
		}
		ids[i] = ag.ID
		g.Address[ag.ID] = ag
	}
	refs := func() []firewall.GroupRef {
		out := []firewall.GroupRef{{ID: pick(r, ids)}}
		if r.IntN(4) == 0 {
			out = append(out, firewall.GroupRef{ID: pick(r, ids)})
		}
		for i := range out {
			out[i].Name = g.Address[out[i].ID].Name
		}
		return out
	}
	eachRule(&t, func(rule *firewall.Rule) {
		if len(rule.Sources) > 0 && r.IntN(4) != 0 {
			rule.Sources, rule.SourceGroups = nil, refs()
		}
		if len(rule.Destinations) > 0 && r.IntN(4) != 0 {
			rule.Destinations, rule.DestinationGroups = nil, refs()
		}
	})
	t.Groups = g
	return t
}
