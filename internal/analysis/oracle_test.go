package analysis

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// The oracle: a brute force over cells. Every dimension is cut at every
// prefix and port boundary that appears in the tree, so that every rule
// matches a cell wholly or not at all, and one flow per cell stands for
// the cell. The matching is a plain linear scan of DESIGN §2, written here
// again, and each cell's decision is checked against the engine.

// refDecider is one step that can decide a flow: a rule, a policy default
// or the firewall default (rule and policy nil).
type refDecider struct {
	rule   *firewall.Rule
	policy *firewall.Policy
	pindex int // position of the policy in evaluation order; big for the firewall default
	action firewall.Action
}

func (d refDecider) key() string {
	switch {
	case d.rule != nil:
		return "rule:" + d.rule.ID
	case d.policy != nil:
		return "default:" + d.policy.ID
	}
	return "firewall"
}

func refTerminal(a firewall.Action) bool {
	return a == firewall.Allow || a == firewall.Deny || a == firewall.Reject
}

// refOrder returns the policies in evaluation order, each with its rules
// in order.
func refOrder(t *firewall.Tree) []firewall.PolicyTree {
	ps := slices.Clone(t.Policies)
	slices.SortStableFunc(ps, func(a, b firewall.PolicyTree) int {
		return cmp.Or(cmp.Compare(a.Policy.Priority, b.Policy.Priority), cmp.Compare(a.Policy.ID, b.Policy.ID))
	})
	for i := range ps {
		ps[i].Rules = slices.Clone(ps[i].Rules)
		slices.SortStableFunc(ps[i].Rules, func(a, b firewall.Rule) int {
			return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.ID, b.ID))
		})
	}
	return ps
}

func refMatches(g *firewall.Groups, r *firewall.Rule, f firewall.Flow) bool {
	switch r.Protocol {
	case firewall.AnyProtocol:
	case firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6:
		if r.Protocol != f.Protocol {
			return false
		}
	default:
		return false
	}
	hasPorts := f.Protocol == firewall.TCP || f.Protocol == firewall.UDP
	if (len(r.SourcePorts) > 0 || len(r.DestinationPorts) > 0) && !hasPorts {
		return false
	}
	return refAddrIn(refUnion(g, r.Sources, r.SourceGroups), f.Source) && refAddrIn(refUnion(g, r.Destinations, r.DestinationGroups), f.Destination) &&
		refPortIn(r.SourcePorts, f.SourcePort) && refPortIn(r.DestinationPorts, f.DestinationPort) &&
		refServicesMatch(g, r.ServiceGroups, f)
}

func refAddrIn(ps []netip.Prefix, a netip.Addr) bool {
	if len(ps) == 0 {
		return true
	}
	for _, p := range ps {
		if p.IsValid() && p.Masked().Contains(a) {
			return true
		}
	}
	return false
}

func refPortIn(rs []firewall.PortRange, p uint16) bool {
	if len(rs) == 0 {
		return true
	}
	for _, r := range rs {
		if r.Low >= 1 && r.Low <= r.High && r.Low <= p && p <= r.High {
			return true
		}
	}
	return false
}

// refDeciders returns every step that matches f, in evaluation order: the
// first decides, the others are what would decide without the ones before.
func refDeciders(g *firewall.Groups, order []firewall.PolicyTree, fwDefault firewall.Action, f firewall.Flow, now time.Time) []refDecider {
	var out []refDecider
	for pi := range order {
		pt := &order[pi]
		if !pt.Policy.Enabled {
			continue
		}
		for ri := range pt.Rules {
			r := &pt.Rules[ri]
			if r.Enabled && !r.Expired(now) && refTerminal(r.Action) && refMatches(g, r, f) {
				out = append(out, refDecider{rule: r, policy: &pt.Policy, pindex: pi, action: r.Action})
			}
		}
		if refTerminal(pt.Policy.DefaultAction) {
			out = append(out, refDecider{policy: &pt.Policy, pindex: pi, action: pt.Policy.DefaultAction})
		}
	}
	return append(out, refDecider{pindex: 1 << 30, action: fwDefault})
}

// refCells returns one flow per cell of the tree's boundaries, or nil when
// there are more than limit cells.
func refCells(t *firewall.Tree, limit int) []firewall.Flow {
	cuts := map[bool][]netip.Addr{false: {netip.IPv4Unspecified()}, true: {netip.IPv6Unspecified()}}
	ports := []uint16{1}
	for _, pt := range t.Policies {
		for _, r := range pt.Rules {
			for _, p := range slices.Concat(r.Sources, r.Destinations, refUnion(&t.Groups, nil, r.SourceGroups), refUnion(&t.Groups, nil, r.DestinationGroups)) {
				if !p.IsValid() {
					continue
				}
				p = p.Masked()
				v6 := !p.Addr().Is4()
				cuts[v6] = append(cuts[v6], p.Addr())
				if next := lastOf(p).Next(); next.IsValid() {
					cuts[v6] = append(cuts[v6], next)
				}
			}
			for _, pr := range slices.Concat(r.SourcePorts, r.DestinationPorts, refServicePorts(&t.Groups, r.ServiceGroups)) {
				ports = append(ports, pr.Low)
				if pr.High < 65535 {
					ports = append(ports, pr.High+1)
				}
			}
		}
	}
	var ps []uint16
	for _, p := range ports {
		if p >= 1 {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	ps = slices.Compact(ps)
	for v6, l := range cuts {
		slices.SortFunc(l, func(a, b netip.Addr) int { return a.Compare(b) })
		cuts[v6] = slices.Compact(l)
	}
	n4, n6, np := len(cuts[false]), len(cuts[true]), len(ps)
	if n4*n4*(2*np*np+1)+n6*n6*(2*np*np+1) > limit {
		return nil
	}
	var flows []firewall.Flow
	for _, fam := range []struct {
		v6     bool
		protos []firewall.Protocol
	}{{false, []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.ICMP}}, {true, []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.ICMPv6}}} {
		for _, proto := range fam.protos {
			for _, s := range cuts[fam.v6] {
				for _, d := range cuts[fam.v6] {
					if !proto.HasPorts() {
						flows = append(flows, firewall.Flow{Protocol: proto, Source: s, Destination: d})
						continue
					}
					for _, sp := range ps {
						for _, dp := range ps {
							flows = append(flows, firewall.Flow{Protocol: proto, Source: s, Destination: d, SourcePort: sp, DestinationPort: dp})
						}
					}
				}
			}
		}
	}
	return flows
}

// lastOf returns the last address of p, computed bit by bit.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// oracle is what the brute force learns about a tree.
type oracle struct {
	unreachable       map[string]bool            // rule ids
	redundant         map[string]bool            // rule ids
	unreachablePolicy map[string]bool            // policy ids
	covers            map[string]map[string]bool // unreachable rule id → decider keys
}

func runOracle(t *testing.T, tree *firewall.Tree, m *engine.Matcher, now time.Time) oracle {
	t.Helper()
	order := refOrder(tree)
	cells := refCells(tree, cellLimit)
	reached := map[string]bool{}
	differs := map[string]bool{}
	policyReached := make([]bool, len(order))
	matchedBy := map[string]map[string]bool{}
	for _, f := range cells {
		ds := refDeciders(&tree.Groups, order, tree.Firewall.DefaultAction, f, now)
		first := ds[0]
		got := m.Evaluate(f, now, false)
		if got.Action != first.action || (first.rule != nil) != (got.RuleID != "") || first.rule != nil && got.RuleID != first.rule.ID {
			t.Fatalf("the reference and the engine disagree on %+v: %+v vs %s", f, got, first.key())
		}
		reached[first.key()] = true
		if first.rule != nil && ds[1].action != first.action {
			differs[first.rule.ID] = true
		}
		for pi := range order {
			if pi <= first.pindex {
				policyReached[pi] = true
			}
		}
		for _, d := range ds[1:] {
			if d.rule != nil {
				if matchedBy[d.rule.ID] == nil {
					matchedBy[d.rule.ID] = map[string]bool{}
				}
				matchedBy[d.rule.ID][first.key()] = true
			}
		}
	}
	o := oracle{unreachable: map[string]bool{}, redundant: map[string]bool{}, unreachablePolicy: map[string]bool{}, covers: map[string]map[string]bool{}}
	for pi, pt := range order {
		if !pt.Policy.Enabled {
			continue
		}
		if !policyReached[pi] {
			o.unreachablePolicy[pt.Policy.ID] = true
		}
		for _, r := range pt.Rules {
			if !r.Enabled || r.Expired(now) || !refTerminal(r.Action) {
				continue
			}
			switch {
			case !reached["rule:"+r.ID]:
				o.unreachable[r.ID] = true
				o.covers[r.ID] = matchedBy[r.ID]
			case !differs[r.ID]:
				o.redundant[r.ID] = true
			}
		}
	}
	return o
}

func takerKey(tk Taker) string {
	switch tk.DecidedBy {
	case firewall.ByRule:
		return "rule:" + tk.RuleID
	case firewall.ByPolicyDefault:
		return "default:" + tk.PolicyID
	}
	return "firewall"
}

// checkExamples re-evaluates every example flow of a report with the
// engine.
func checkExamples(t *testing.T, tree *firewall.Tree, m *engine.Matcher, now time.Time, rep Report) {
	t.Helper()
	rules := map[string]*firewall.Rule{}
	for i := range tree.Policies {
		for j := range tree.Policies[i].Rules {
			rules[tree.Policies[i].Rules[j].ID] = &tree.Policies[i].Rules[j]
		}
	}
	for _, f := range rep.Findings {
		if f.Example == nil {
			if f.Kind == Redundant || f.Kind == Conflict {
				t.Errorf("%s finding on %s has no example", f.Kind, f.RuleID)
			}
			continue
		}
		got := m.Evaluate(f.Example.Flow, now, false)
		if !sameDecision(got, f.Example.Decision) {
			t.Errorf("%s finding on %s: the engine decides %+v as %+v, the finding says %+v", f.Kind, f.RuleID, f.Example.Flow, got, f.Example.Decision)
		}
		if f.Kind == Conflict && !refMatches(&tree.Groups, rules[f.RuleID], f.Example.Flow) {
			t.Errorf("conflict %s/%s: the example %+v does not match the first rule", f.RuleID, f.ConflictsWith, f.Example.Flow)
		}
		if f.Kind == Redundant && got.RuleID != f.RuleID {
			t.Errorf("%s finding on %s: its example is decided by %q", f.Kind, f.RuleID, got.RuleID)
		}
		if f.Kind == Conflict && !refMatches(&tree.Groups, rules[f.ConflictsWith], f.Example.Flow) {
			t.Errorf("conflict %s/%s: the example %+v does not match the second rule", f.RuleID, f.ConflictsWith, f.Example.Flow)
		}
	}
}

// oracleCount is how many random firewalls an oracle test checks: full
// (what the issue asks, run by .ci/run without -race), under -short, and
// under the race detector, which makes them ~10 times slower.
func oracleCount(full, short, race int) int {
	switch {
	case testing.Short():
		return short
	case raceEnabled:
		return race
	}
	return full
}

// cellLimit bounds the cells of a tree the oracle checks.
const cellLimit = 50000

func TestFindingsMatchOracle(t *testing.T) {
	want := oracleCount(2000, 200, 250)
	r := rand.New(rand.NewPCG(15, 2026))
	checked, skipped := 0, 0
	for seed := 0; checked < want; seed++ {
		g := fwgen.NewAdversarial(r, seed%4 == 0)
		tree := g.Tree(3, 1+r.IntN(6))
		switch checkOracle(t, seed, tree) {
		case oracleChecked:
			checked++
		case oracleTooBig:
			skipped++
		}
	}
	t.Logf("%d firewalls checked against the oracle (%d skipped as too many cells)", checked, skipped)
}

// Outcomes of checkOracle.
const (
	oracleChecked = iota
	oracleTooBig  // too many cells
	oracleRefused // a junk firewall default
)

// checkOracle compares the findings on tree with the brute force. The
// engine that checks the reference and the examples runs on the tree with
// its groups expanded into literal rules (engineTree), which the reference
// checks in turn, cell by cell.
func checkOracle(t *testing.T, seed int, tree firewall.Tree) int {
	t.Helper()
	m, err := engine.Compile(tree)
	if err != nil {
		return oracleRefused // New must refuse it too
	}
	if refCells(&tree, cellLimit) == nil {
		return oracleTooBig
	}
	now := fwgen.Now
	model, err := New(tree, now)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	rep, err := model.Findings(Options{Kinds: []Kind{Unreachable, Redundant, UnreachablePolicy, Conflict}})
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	o := runOracle(t, &tree, m, now)
	got := oracle{unreachable: map[string]bool{}, redundant: map[string]bool{}, unreachablePolicy: map[string]bool{}, covers: map[string]map[string]bool{}}
	for _, f := range rep.Findings {
		switch f.Kind {
		case Unreachable:
			got.unreachable[f.RuleID] = true
			if f.CoveredByTotal <= MaxTakers {
				cv := map[string]bool{}
				for _, tk := range f.CoveredBy {
					cv[takerKey(tk)] = true
				}
				if len(cv) == 0 {
					cv = nil
				}
				got.covers[f.RuleID] = cv
			} else {
				got.covers[f.RuleID] = o.covers[f.RuleID]
			}
		case Redundant:
			got.redundant[f.RuleID] = true
		case UnreachablePolicy:
			got.unreachablePolicy[f.PolicyID] = true
		}
	}
	for name, pair := range map[string][2]map[string]bool{
		"unreachable": {got.unreachable, o.unreachable}, "redundant": {got.redundant, o.redundant},
		"unreachable_policy": {got.unreachablePolicy, o.unreachablePolicy},
	} {
		if !mapsEqual(pair[0], pair[1]) {
			t.Fatalf("seed %d: %s: analysis %v, oracle %v\ntree: %s", seed, name, keys(pair[0]), keys(pair[1]), dumpTree(&tree))
		}
	}
	for id, cv := range o.covers {
		if !mapsEqual(got.covers[id], cv) {
			t.Fatalf("seed %d: cover of %s: analysis %v, oracle %v", seed, id, keys(got.covers[id]), keys(cv))
		}
	}
	checkExamples(t, &tree, m, now, rep)
	return oracleChecked
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func dumpTree(t *firewall.Tree) string {
	s := fmt.Sprintf("firewall default %s\n", t.Firewall.DefaultAction)
	for _, pt := range refOrder(t) {
		s += fmt.Sprintf("policy %s prio %d enabled %v default %s\n", pt.Policy.ID, pt.Policy.Priority, pt.Policy.Enabled, pt.Policy.DefaultAction)
		for _, r := range pt.Rules {
			s += fmt.Sprintf("  %s pos %d %s %s src %v dst %v sp %v dp %v enabled %v exp %v\n", r.ID, r.Position, r.Action, r.Protocol, r.Sources, r.Destinations, r.SourcePorts, r.DestinationPorts, r.Enabled, r.ExpiresAt)
			if len(r.SourceGroups)+len(r.DestinationGroups)+len(r.ServiceGroups) > 0 {
				s += fmt.Sprintf("    groups: src %v dst %v svc %v\n", refUnion(&t.Groups, nil, r.SourceGroups), refUnion(&t.Groups, nil, r.DestinationGroups), refServices(&t.Groups, r.ServiceGroups))
			}
		}
	}
	return s
}

func sameDecision(a, b firewall.Decision) bool {
	return a.Action == b.Action && a.DecidedBy == b.DecidedBy && a.PolicyID == b.PolicyID && a.RuleID == b.RuleID && a.Revision == b.Revision
}
