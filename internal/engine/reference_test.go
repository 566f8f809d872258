package engine

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// refTree is the plain reference: a linear scan of DESIGN §2 "Evaluation
// of a flow", with the engine's documented handling of entries the domain
// would refuse (they match nothing). Policies and rules are sorted once.
type refTree struct {
	fw   firewall.Firewall
	pols []refPolicy
}

type refPolicy struct {
	p     firewall.Policy
	rules []*firewall.Rule
}

func newRef(t *firewall.Tree) *refTree {
	rt := &refTree{fw: t.Firewall}
	for i := range t.Policies {
		pt := &t.Policies[i]
		rp := refPolicy{p: pt.Policy}
		for j := range pt.Rules {
			rp.rules = append(rp.rules, &pt.Rules[j])
		}
		slices.SortStableFunc(rp.rules, func(a, b *firewall.Rule) int {
			return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.ID, b.ID))
		})
		rt.pols = append(rt.pols, rp)
	}
	slices.SortStableFunc(rt.pols, func(a, b refPolicy) int {
		return cmp.Or(cmp.Compare(a.p.Priority, b.p.Priority), cmp.Compare(a.p.ID, b.p.ID))
	})
	return rt
}

// valid reports whether Compile must accept the tree.
func (rt *refTree) valid() bool { return refTerminal(rt.fw.DefaultAction) }

func (rt *refTree) evaluate(f firewall.Flow, now time.Time) firewall.Decision {
	for _, p := range rt.pols {
		if !p.p.Enabled {
			continue
		}
		for _, r := range p.rules {
			if !r.Enabled || r.Expired(now) || !refTerminal(r.Action) {
				continue
			}
			if refMatches(r, &f) {
				return firewall.Decision{Action: r.Action, DecidedBy: firewall.ByRule, PolicyID: p.p.ID, RuleID: r.ID, Revision: rt.fw.Revision}
			}
		}
		if refTerminal(p.p.DefaultAction) {
			return firewall.Decision{Action: p.p.DefaultAction, DecidedBy: firewall.ByPolicyDefault, PolicyID: p.p.ID, Revision: rt.fw.Revision}
		}
	}
	return firewall.Decision{Action: rt.fw.DefaultAction, DecidedBy: firewall.ByFirewallDefault, Revision: rt.fw.Revision}
}

// refMatches reports whether r matches f on every field (expiry aside).
func refMatches(r *firewall.Rule, f *firewall.Flow) bool {
	switch r.Protocol {
	case firewall.AnyProtocol:
	case firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6:
		if r.Protocol != f.Protocol {
			return false
		}
	default:
		return false
	}
	if len(r.Sources) > 0 && !slices.ContainsFunc(r.Sources, func(p netip.Prefix) bool { return p.Contains(f.Source) }) {
		return false
	}
	if len(r.Destinations) > 0 && !slices.ContainsFunc(r.Destinations, func(p netip.Prefix) bool { return p.Contains(f.Destination) }) {
		return false
	}
	ported := f.Protocol.HasPorts()
	if len(r.SourcePorts) > 0 && (!ported || !slices.ContainsFunc(r.SourcePorts, func(pr firewall.PortRange) bool { return refPortIn(pr, f.SourcePort) })) {
		return false
	}
	if len(r.DestinationPorts) > 0 && (!ported || !slices.ContainsFunc(r.DestinationPorts, func(pr firewall.PortRange) bool { return refPortIn(pr, f.DestinationPort) })) {
		return false
	}
	return true
}

// refPortIn: an invalid range (low 0 or low > high) matches nothing.
func refPortIn(r firewall.PortRange, p uint16) bool { return r.Low >= 1 && r.Contains(p) }

func refTerminal(a firewall.Action) bool {
	return a == firewall.Allow || a == firewall.Deny || a == firewall.Reject
}

// explain returns the expected path: every policy visited with its outcome,
// and the expired rules that would have matched before the decision.
func (rt *refTree) explain(f firewall.Flow, now time.Time) []firewall.Step {
	var path []firewall.Step
	for _, p := range rt.pols {
		st := firewall.Step{PolicyID: p.p.ID, PolicyName: p.p.Name}
		if !p.p.Enabled {
			st.Outcome = firewall.OutcomeDisabled
			path = append(path, st)
			continue
		}
		decided := false
		for _, r := range p.rules {
			if !r.Enabled || !refTerminal(r.Action) || !refMatches(r, &f) {
				continue
			}
			if r.Expired(now) {
				if len(st.ExpiredRules) < firewall.MaxExpiredRules {
					st.ExpiredRules = append(st.ExpiredRules, r.ID)
				}
				continue
			}
			st.Outcome, st.RuleID, decided = firewall.OutcomeRuleMatched, r.ID, true
			break
		}
		if !decided && refTerminal(p.p.DefaultAction) {
			st.Outcome, decided = firewall.OutcomePolicyDefault, true
		}
		if !decided {
			st.Outcome = firewall.OutcomeFellThrough
		}
		path = append(path, st)
		if decided {
			break
		}
	}
	return path
}
