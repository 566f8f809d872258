package export

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Address groups become named sets: in nftables always (one set per family,
// "type ipv4_addr; flags interval", flattened since nft sets do not nest),
// in iptables when Options.IPSet asks (ipset hash:net, one per family);
// otherwise their members join the rule's literal lists. A rule whose
// source set is literal ∪ groups is written as one statement per
// alternative (the literal list, then each group's set) crossed with the
// destination's alternatives: consecutive statements with one verdict
// decide exactly as their union, and each group stays one set, so that an
// edit to a group reloads that set alone. Service groups are expanded: a
// rule with service groups becomes one rule per service (see
// plan.serviceRules), since a reject's verdict depends on the protocol and
// icmp or protocol-any services have no port to concatenate.

// Name limits: nft takes long set names (NFT_SET_MAXNAMELEN is 256) but a
// short one reads better; ipset names hold at most 31 bytes.
const (
	nftSetBaseMax   = 48
	ipsetSetBaseMax = 27 // plus "_v4"
)

// groupSets names the address groups the rendered rules use and keeps
// their members, flattened and split by family.
type groupSets struct {
	g       *firewall.Groups
	base    map[string]string // group id → set name without the family suffix
	taken   map[string]bool
	members map[string][2][]netip.Prefix // group id → v4, v6 members, minimal
	used    []setUse                     // in first-use order
	seen    map[setUse]bool
	limit   int
}

// setUse is one group rendered in one family.
type setUse struct {
	id string
	f  family
}

func newGroupSets(g *firewall.Groups, nft bool) *groupSets {
	limit := ipsetSetBaseMax
	if nft {
		limit = nftSetBaseMax
	}
	return &groupSets{g: g, base: map[string]string{}, taken: map[string]bool{}, members: map[string][2][]netip.Prefix{}, seen: map[setUse]bool{}, limit: limit}
}

// groupMembers returns group id's members of each family, nesting
// flattened, without a prefix another one covers.
func (s *groupSets) groupMembers(id string) (v4, v6 []netip.Prefix) {
	if m, ok := s.members[id]; ok {
		return m[0], m[1]
	}
	v4, v6 = byFamily(s.g.Addresses(id))
	s.members[id] = [2][]netip.Prefix{v4, v6}
	return v4, v6
}

// name returns the set of group id in family f and records its use.
func (s *groupSets) name(id string, f family) string {
	u := setUse{id, f}
	if !s.seen[u] {
		s.seen[u] = true
		s.used = append(s.used, u)
	}
	return s.baseName(id) + map[family]string{fam4: "_v4", fam6: "_v6"}[f]
}

// baseName derives a set name from the group's name: "g_" and the name
// sanitised to letters, digits, '_' and '-' (the prefix keeps it off nft's
// keywords). A lossy, long or taken name gets a hash of the group id, so
// that two groups never share a set.
func (s *groupSets) baseName(id string) string {
	if b, ok := s.base[id]; ok {
		return b
	}
	name := s.groupName(id)
	b := "g_" + sanitizeIdent(name)
	if b != "g_"+name || len(b) > s.limit || s.taken[b] {
		h := fnv.New32a()
		h.Write([]byte(id))
		b = fmt.Sprintf("%s_%08x", strings.TrimRight(b[:min(len(b), s.limit-9)], "-_"), h.Sum32())
	}
	s.taken[b] = true
	s.base[id] = b
	return b
}

func (s *groupSets) groupName(id string) string {
	if g, ok := s.g.Address[id]; ok && g.Name != "" {
		return g.Name
	}
	return id
}

// splitGroups is split for a rule with address groups: per family, the
// literal entries and each group with members of the family are
// alternatives of the union, kept apart as sets or merged into the lists.
func (r *planRule) splitGroups(g *firewall.Groups, sets *groupSets) {
	rule := r.r
	members := sets
	if members == nil {
		members = newGroupSets(g, false) // only for the flattened members
	}
	type side struct {
		lits  [2][]netip.Prefix
		sets  [2][]string
		merge [2][]netip.Prefix // literal ∪ members, for expansion
		any   bool
	}
	build := func(lits []netip.Prefix, refs []firewall.GroupRef) side {
		var sd side
		sd.lits[0], sd.lits[1] = byFamily(lits)
		sd.merge = sd.lits
		seen := map[string]bool{}
		for _, ref := range refs {
			if seen[ref.ID] {
				continue
			}
			seen[ref.ID] = true
			m4, m6 := members.groupMembers(ref.ID)
			for i, m := range [][]netip.Prefix{m4, m6} {
				if len(m) == 0 {
					continue
				}
				if sets != nil {
					sd.sets[i] = append(sd.sets[i], ref.ID)
				} else {
					sd.merge[i] = append(slices.Clone(sd.merge[i]), m...)
				}
			}
		}
		sd.merge[0], sd.merge[1] = minimal(sd.merge[0]), minimal(sd.merge[1])
		sd.any = len(sd.lits[0])+len(sd.lits[1])+len(sd.sets[0])+len(sd.sets[1]) == 0 && len(sd.merge[0])+len(sd.merge[1]) == 0
		return sd
	}
	src := build(rule.Sources, rule.SourceGroups)
	dst := build(rule.Destinations, rule.DestinationGroups)
	mk := func(i int, f family) *part {
		has := func(sd side) bool { return sd.any || len(sd.merge[i]) > 0 || len(sd.sets[i]) > 0 }
		if !has(src) || !has(dst) {
			return nil
		}
		pt := &part{}
		if sets == nil {
			pt.src, pt.dst = src.merge[i], dst.merge[i]
			return pt
		}
		pt.src, pt.dst = src.lits[i], dst.lits[i]
		for _, id := range src.sets[i] {
			pt.srcSets = append(pt.srcSets, sets.name(id, f))
		}
		for _, id := range dst.sets[i] {
			pt.dstSets = append(pt.dstSets, sets.name(id, f))
		}
		return pt
	}
	if rule.Protocol != firewall.ICMPv6 {
		r.v4 = mk(0, fam4)
	}
	if rule.Protocol != firewall.ICMP {
		r.v6 = mk(1, fam6)
	}
}

// alternatives returns the part as statements whose union it is: each
// holds the literal list or one set on each side.
func (p *part) alternatives() []part {
	if len(p.srcSets) == 0 && len(p.dstSets) == 0 {
		return []part{*p}
	}
	side := func(lits []netip.Prefix, sets []string) []part {
		var out []part
		if len(lits) > 0 {
			out = append(out, part{src: lits})
		}
		for _, s := range sets {
			out = append(out, part{srcSets: []string{s}})
		}
		if len(out) == 0 {
			out = append(out, part{}) // any
		}
		return out
	}
	var out []part
	for _, s := range side(p.src, p.srcSets) {
		for _, d := range side(p.dst, p.dstSets) {
			out = append(out, part{src: s.src, srcSets: s.srcSets, dst: d.src, dstSets: d.srcSets})
		}
	}
	return out
}

// serviceRules returns the plan rules of r: one, or one per distinct
// service of its service groups, in order, dropping those that match no
// flow (an icmp service of an IPv6-only rule); the rule is left out only
// when none matches a flow.
func (p *plan) serviceRules(g *firewall.Groups, r *firewall.Rule) []planRule {
	svcs := g.RuleServices(r)
	if len(svcs) == 0 { // none, or groups without members: any service
		pr := planRule{r: r}
		pr.split(g, p.sets)
		if pr.v4 == nil && pr.v6 == nil {
			pr.skip = "matches no flow: " + noFlowReason(r)
		}
		return []planRule{pr}
	}
	var out []planRule
	seen := map[string]bool{}
	for _, s := range svcs {
		key := fmt.Sprint(s.Protocol, s.Ports)
		if seen[key] {
			continue
		}
		seen[key] = true
		x := *r
		x.Protocol, x.DestinationPorts, x.ServiceGroups = s.Protocol, s.Ports, nil
		pr := planRule{r: &x, cont: len(out) > 0}
		pr.split(g, p.sets)
		if pr.v4 != nil || pr.v6 != nil {
			out = append(out, pr)
		}
	}
	if len(out) == 0 {
		return []planRule{{r: r, skip: "matches no flow: no service of its service groups meets its address families"}}
	}
	return out
}

// checkGroups lists what in r's groups cannot be rendered: a group the tree
// does not hold (its members are unknown), a member the domain refuses, and
// service groups beside a protocol or ports of the rule's own.
func checkGroups(g *firewall.Groups, r *firewall.Rule) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{RuleID: r.ID, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	for _, side := range []struct {
		field string
		refs  []firewall.GroupRef
	}{{"source_groups", r.SourceGroups}, {"destination_groups", r.DestinationGroups}} {
		for i, ref := range side.refs {
			field := fmt.Sprintf("%s[%d]", side.field, i)
			walkAddressGroup(g, ref.ID, func(id string, ok bool) {
				if !ok {
					add(field, "address group %q is not in the tree", id)
					return
				}
				for j, p := range g.Address[id].Addresses {
					switch {
					case !p.IsValid():
						add(field, "address group %q: addresses[%d] is not a valid CIDR", g.Address[id].Name, j)
					case p.Masked() != p:
						add(field, "address group %q: addresses[%d] %s has host bits set", g.Address[id].Name, j, p)
					}
				}
			})
		}
	}
	if len(r.ServiceGroups) > 0 && (r.Protocol != firewall.AnyProtocol || len(r.SourcePorts) > 0 || len(r.DestinationPorts) > 0) {
		add("service_groups", "a rule with service_groups takes its protocols and ports from them: its protocol must be any and its ports empty")
	}
	for i, ref := range r.ServiceGroups {
		field := fmt.Sprintf("service_groups[%d]", i)
		walkServiceGroup(g, ref.ID, func(id string, ok bool) {
			if !ok {
				add(field, "service group %q is not in the tree", id)
				return
			}
			sg := g.Service[id]
			for j, s := range sg.Services {
				switch s.Protocol {
				case firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6:
				default:
					add(field, "service group %q: services[%d]: protocol %q is not any, tcp, udp, icmp or icmpv6", sg.Name, j, s.Protocol)
					continue
				}
				if len(s.Ports) > 0 && !s.Protocol.HasPorts() {
					add(field, "service group %q: services[%d]: ports need protocol tcp or udp, not %q", sg.Name, j, s.Protocol)
				}
				for k, pr := range s.Ports {
					if pr.Low == 0 || pr.Low > pr.High {
						add(field, "service group %q: services[%d].ports[%d]: range %d-%d is not within 1-65535 with low ≤ high", sg.Name, j, k, pr.Low, pr.High)
					}
				}
			}
		})
	}
	return ps
}

// walkAddressGroup calls visit on group id and every group nested in it,
// once each, saying whether the tree holds it.
func walkAddressGroup(g *firewall.Groups, id string, visit func(id string, ok bool)) {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		ag, ok := g.Address[id]
		visit(id, ok)
		for _, ref := range ag.Groups {
			walk(ref.ID)
		}
	}
	walk(id)
}

// walkServiceGroup is walkAddressGroup for service groups.
func walkServiceGroup(g *firewall.Groups, id string, visit func(id string, ok bool)) {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		sg, ok := g.Service[id]
		visit(id, ok)
		for _, ref := range sg.Groups {
			walk(ref.ID)
		}
	}
	walk(id)
}

// nftSets writes the declarations of the sets the rules use.
func (s *groupSets) nftSets(b *strings.Builder) {
	for _, u := range s.used {
		m4, m6 := s.groupMembers(u.id)
		typ, members := "ipv4_addr", m4
		if u.f == fam6 {
			typ, members = "ipv6_addr", m6
		}
		fmt.Fprintf(b, "\t# address group %q (id %s), IPv%d members\n", lineText(s.groupName(u.id)), lineText(u.id), u.f)
		fmt.Fprintf(b, "\tset %s {\n\t\ttype %s; flags interval;\n\t\telements = { ", s.name(u.id, u.f), typ)
		var buf []byte
		for i, p := range members {
			if i > 0 {
				buf = append(buf, ", "...)
			}
			buf = appendPrefix(buf, p)
		}
		b.Write(buf)
		b.WriteString(" }\n\t}\n")
	}
}

// ipsets writes `ipset restore` input for the sets of family f the rules
// use: each set created if absent, flushed and filled, so that loading it
// again reloads the groups.
func (s *groupSets) ipsets(f family) []byte {
	var b []byte
	fam := map[family]string{fam4: "inet", fam6: "inet6"}[f]
	for _, u := range s.used {
		if u.f != f {
			continue
		}
		m4, m6 := s.groupMembers(u.id)
		members := m4
		if f == fam6 {
			members = m6
		}
		name := s.name(u.id, f)
		b = fmt.Appendf(b, "# address group %q (id %s)\ncreate %s hash:net family %s -exist\nflush %s\n", lineText(s.groupName(u.id)), lineText(u.id), name, fam, name)
		for _, p := range members {
			// hash:net holds prefixes of length 1 and more: /0 is both halves.
			for _, q := range splitZero(p) {
				b = appendPrefix(append(b, "add "+name+" "...), q)
				b = append(b, '\n')
			}
		}
	}
	return b
}

func splitZero(p netip.Prefix) []netip.Prefix {
	if p.Bits() != 0 {
		return []netip.Prefix{p}
	}
	hi := netip.MustParseAddr("128.0.0.0")
	if p.Addr().Is6() {
		hi = netip.MustParseAddr("8000::")
	}
	return []netip.Prefix{netip.PrefixFrom(p.Addr(), 1), netip.PrefixFrom(hi, 1)}
}
