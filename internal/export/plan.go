package export

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fireflow/fireflow/internal/firewall"
)

// family is an address family of the rendered output.
type family int

const (
	fam4 family = 4
	fam6 family = 6
)

// plan is a tree sorted and checked once, shared by every format.
type plan struct {
	opt      Options
	fw       *firewall.Firewall
	policies []planPolicy
	rulesIn  int
	// sets holds the address groups the rules use, as named sets (nft) or
	// ipsets; nil when groups are expanded into the rules' lists.
	sets *groupSets
}

type planPolicy struct {
	p     *firewall.Policy
	chain string // a name valid in nft and iptables alike (at most 28 bytes)
	rules []planRule
}

// planRule is a rule with its lists split by family and merged. A rule
// with service groups becomes one planRule per service, in order, each a
// copy of the rule with the service's protocol and ports: the first
// stands for the rule, the others continue it (cont).
type planRule struct {
	r    *firewall.Rule
	cont bool   // another service of the rule before
	skip string // why the rule is left out whatever the family, or ""
	// v4 and v6 are the rule's matches within each family, nil when the
	// rule matches no flow of that family.
	v4, v6 *part
	// sports and dports are the port lists, merged into disjoint ranges.
	sports, dports []firewall.PortRange
}

// part is a rule's address matches within one family: the literal lists
// and the named sets of the groups whose members join them (the match is
// their union); all empty is any.
type part struct {
	src, dst         []netip.Prefix
	srcSets, dstSets []string
}

// anyAddr reports whether the part matches every address of its family.
func (p *part) anyAddr() bool {
	return len(p.src) == 0 && len(p.dst) == 0 && len(p.srcSets) == 0 && len(p.dstSets) == 0
}

func (r *planRule) part(f family) *part {
	if f == fam4 {
		return r.v4
	}
	return r.v6
}

func newPlan(t *firewall.Tree, opt Options) (*plan, error) {
	p := &plan{opt: opt, fw: &t.Firewall}
	if opt.Format == NFTables || opt.IPSet {
		p.sets = newGroupSets(&t.Groups, opt.Format == NFTables)
	}
	var probs []Problem
	if a := t.Firewall.DefaultAction; a != firewall.Allow && a != firewall.Deny {
		probs = append(probs, Problem{Field: "default_action", Reason: fmt.Sprintf("the firewall default %q is not allow or deny", a)})
	}
	order := make([]int, len(t.Policies))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := &t.Policies[i].Policy, &t.Policies[j].Policy
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.ID, b.ID))
	})
	for n, i := range order {
		pt := &t.Policies[i]
		pp := planPolicy{p: &pt.Policy, chain: chainName(n+1, pt.Policy.Name), rules: make([]planRule, 0, len(pt.Rules))}
		p.rulesIn += len(pt.Rules)
		if a := pt.Policy.DefaultAction; pt.Policy.Enabled && a != firewall.Allow && a != firewall.Deny && a != firewall.Next {
			probs = append(probs, Problem{PolicyID: pt.Policy.ID, Field: "default_action", Reason: fmt.Sprintf("the policy default %q is not allow, deny or next", a)})
		}
		rules := make([]*firewall.Rule, len(pt.Rules))
		for j := range pt.Rules {
			rules[j] = &pt.Rules[j]
		}
		slices.SortStableFunc(rules, func(a, b *firewall.Rule) int {
			return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.ID, b.ID))
		})
		for _, r := range rules {
			pr := planRule{r: r}
			switch {
			case !pt.Policy.Enabled:
				pr.skip = "its policy is disabled"
			case !r.Enabled:
				pr.skip = "disabled"
			case r.Expired(opt.Now):
				pr.skip = "expired at " + r.ExpiresAt.UTC().Format(time.RFC3339Nano)
			default:
				if ps := slices.Concat(checkRule(r), checkGroups(&t.Groups, r)); len(ps) > 0 {
					for _, prob := range ps {
						prob.PolicyID = pt.Policy.ID
						probs = append(probs, prob)
					}
					continue
				}
				pp.rules = append(pp.rules, p.serviceRules(&t.Groups, r)...)
				continue
			}
			pp.rules = append(pp.rules, pr)
		}
		p.policies = append(p.policies, pp)
	}
	if len(probs) > 0 {
		return nil, &Error{Format: opt.Format, Problems: probs}
	}
	return p, nil
}

// checkRule lists what in r cannot be rendered: anything the domain's
// validation refuses that changes what the rule matches. (The engine lets
// such entries match nothing; a ruleset cannot say that faithfully.)
func checkRule(r *firewall.Rule) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{RuleID: r.ID, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch r.Action {
	case firewall.Allow, firewall.Deny, firewall.Reject:
	default:
		add("action", "action %q is not allow, deny or reject", r.Action)
	}
	knownProtocol := true
	switch r.Protocol {
	case firewall.AnyProtocol, firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6:
	default:
		knownProtocol = false
		add("protocol", "protocol %q is not any, tcp, udp, icmp or icmpv6", r.Protocol)
	}
	checkPrefixes := func(field string, ps []netip.Prefix) {
		for i, p := range ps {
			switch {
			case !p.IsValid():
				add(fmt.Sprintf("%s[%d]", field, i), "not a valid CIDR")
			case p.Masked() != p:
				add(fmt.Sprintf("%s[%d]", field, i), "%s has host bits set", p)
			}
		}
	}
	checkPrefixes("sources", r.Sources)
	checkPrefixes("destinations", r.Destinations)
	checkPorts := func(field string, prs []firewall.PortRange) {
		if len(prs) > 0 && knownProtocol && !r.Protocol.HasPorts() {
			add(field, "ports need protocol tcp or udp, not %q", r.Protocol)
		}
		for i, pr := range prs {
			if pr.Low == 0 || pr.Low > pr.High {
				add(fmt.Sprintf("%s[%d]", field, i), "range %d-%d is not within 1-65535 with low ≤ high", pr.Low, pr.High)
			}
		}
	}
	checkPorts("source_ports", r.SourcePorts)
	checkPorts("destination_ports", r.DestinationPorts)
	return ps
}

// split fills the rule's per-family parts and merged port lists.
func (r *planRule) split(g *firewall.Groups, sets *groupSets) {
	rule := r.r
	if len(rule.SourceGroups)+len(rule.DestinationGroups) > 0 {
		r.splitGroups(g, sets)
	} else {
		s4, s6 := byFamily(rule.Sources)
		d4, d6 := byFamily(rule.Destinations)
		// An empty list is any; a list with no entry of a family matches no
		// flow of that family.
		ok := func(all, fam []netip.Prefix) bool { return len(all) == 0 || len(fam) > 0 }
		if rule.Protocol != firewall.ICMPv6 && ok(rule.Sources, s4) && ok(rule.Destinations, d4) {
			r.v4 = &part{src: s4, dst: d4}
		}
		if rule.Protocol != firewall.ICMP && ok(rule.Sources, s6) && ok(rule.Destinations, d6) {
			r.v6 = &part{src: s6, dst: d6}
		}
	}
	r.sports = mergePorts(rule.SourcePorts)
	r.dports = mergePorts(rule.DestinationPorts)
}

func noFlowReason(r *firewall.Rule) string {
	return fmt.Sprintf("protocol %s with sources %s and destinations %s leave no address family",
		r.Protocol, familiesOf(r.Sources), familiesOf(r.Destinations))
}

func familiesOf(ps []netip.Prefix) string {
	s4, s6 := byFamily(ps)
	switch {
	case len(ps) == 0:
		return "any"
	case len(s4) > 0 && len(s6) > 0:
		return "IPv4 and IPv6"
	case len(s4) > 0:
		return "IPv4 only"
	}
	return "IPv6 only"
}

// byFamily splits ps by family and drops the prefixes another one covers,
// so that the union is unchanged and the lists hold no overlaps (nft
// refuses some overlapping interval sets).
func byFamily(ps []netip.Prefix) (v4, v6 []netip.Prefix) {
	if len(ps) == 1 { // the common case, without allocating
		if ps[0].Addr().Is4() {
			return ps[:1:1], nil
		}
		return nil, ps[:1:1]
	}
	for _, p := range ps {
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	return minimal(v4), minimal(v6)
}

// minimal sorts ps and removes every prefix another one contains.
func minimal(ps []netip.Prefix) []netip.Prefix {
	if len(ps) < 2 {
		return ps
	}
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
	})
	out := ps[:1]
	for _, p := range ps[1:] {
		last := out[len(out)-1]
		// Sorted by address then length: a covering prefix comes first.
		if last.Bits() <= p.Bits() && last.Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// mergePorts returns the union of prs as sorted, disjoint, non-adjacent ranges.
func mergePorts(prs []firewall.PortRange) []firewall.PortRange {
	if len(prs) < 2 {
		return prs
	}
	prs = slices.Clone(prs)
	slices.SortFunc(prs, func(a, b firewall.PortRange) int { return cmp.Compare(a.Low, b.Low) })
	out := prs[:1]
	for _, pr := range prs[1:] {
		last := &out[len(out)-1]
		if int(pr.Low) <= int(last.High)+1 {
			last.High = max(last.High, pr.High)
			continue
		}
		out = append(out, pr)
	}
	return out
}

// appendPrefix appends p so that nft and iptables both read it: an
// IPv4-mapped IPv6 prefix is spelled in hex, never dotted, and a host
// without its length.
func appendPrefix(b []byte, p netip.Prefix) []byte {
	a := p.Addr()
	if a.Is4In6() {
		b = append(b, a.StringExpanded()...)
	} else {
		b = a.AppendTo(b)
	}
	if p.Bits() == a.BitLen() {
		return b
	}
	return strconv.AppendInt(append(b, '/'), int64(p.Bits()), 10)
}

// chainName returns the chain of the n-th policy in priority order:
// "ff-<n>-<name>", sanitised and cut to iptables' 28-byte limit.
func chainName(n int, name string) string {
	s := fmt.Sprintf("ff-%d-%s", n, sanitizeIdent(name))
	if len(s) > 28 {
		s = s[:28]
	}
	return strings.TrimRight(s, "-_")
}

// sanitizeIdent keeps ASCII letters, digits, '_' and '-', and turns every
// other rune into '_'.
func sanitizeIdent(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// tableName returns the nftables table of the firewall: "fireflow_" and
// its name, sanitised; a lossy sanitisation adds a hash of the name, so
// that two firewalls never share a table.
func tableName(name string) string {
	s := sanitizeIdent(name)
	if len(s) > 64 {
		s = s[:64]
	}
	if s != name {
		h := fnv.New32a()
		h.Write([]byte(name))
		s = fmt.Sprintf("%s_%08x", s, h.Sum32())
	}
	return "fireflow_" + s
}

// validTable reports whether s is a safe nftables table name.
func validTable(s string) bool {
	if s == "" || len(s) > 200 || sanitizeIdent(s) != s {
		return false
	}
	c := s[0]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// commentText makes s safe inside a double-quoted comment of nft or
// iptables-restore and at most limit bytes long: no quotes, backslashes or
// control characters, cut on a rune boundary.
func commentText(s string, limit int) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '"':
			c = '\''
		case c == '\\':
			c = '/'
		case unicode.IsControl(c) || c == utf8.RuneError:
			c = ' '
		}
		if b.Len()+utf8.RuneLen(c) > limit {
			break
		}
		b.WriteRune(c)
	}
	return strings.TrimRight(b.String(), " ")
}

// lineText makes s safe in a '#' comment line: no control characters.
func lineText(s string) string {
	return strings.Map(func(c rune) rune {
		if unicode.IsControl(c) || c == utf8.RuneError {
			return ' '
		}
		return c
	}, s)
}

func ruleLabel(r *firewall.Rule) string {
	if r.Name == "" {
		return "rule " + r.ID
	}
	return "rule " + r.ID + " " + r.Name
}

func policyLabel(p *firewall.Policy) string { return "policy " + p.ID + " " + p.Name }
