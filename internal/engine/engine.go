package engine

import (
	"slices"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Revision is the firewall revision the matcher was compiled from.
func (m *Matcher) Revision() int64 { return m.revision }

// Evaluate decides one flow at time now. Rules whose expiry is at or before
// now are skipped, as firewall.Rule.Expired says. With explain, the decision
// carries the path of policies visited; without it, Evaluate does not
// allocate.
func (m *Matcher) Evaluate(f firewall.Flow, now time.Time, explain bool) firewall.Decision {
	if explain {
		return m.explain(&f, now)
	}
	return m.decide(m.lookup(&f, now, nil))
}

// EvaluateBatch decides many flows at time now, writing the decision for
// flows[i] to out[i]. It panics if out is shorter than flows. Without
// explain it does not allocate.
func (m *Matcher) EvaluateBatch(flows []firewall.Flow, now time.Time, explain bool, out []firewall.Decision) {
	if len(out) < len(flows) {
		panic("engine: EvaluateBatch needs len(out) >= len(flows)")
	}
	out = out[:len(flows)]
	if explain {
		for i := range flows {
			out[i] = m.explain(&flows[i], now)
		}
		return
	}
	for i := range flows {
		out[i] = m.decide(m.lookup(&flows[i], now, nil))
	}
}

// decide turns the order of the first matching rule (or len(m.rules) when
// none matched) into a decision.
func (m *Matcher) decide(best int32) firewall.Decision {
	if int(best) < len(m.rules) {
		r := &m.rules[best]
		return firewall.Decision{Action: actions[r.action], DecidedBy: firewall.ByRule, PolicyID: m.policies[r.policy].id, RuleID: r.id, Revision: m.revision}
	}
	if m.cut >= 0 {
		p := &m.policies[m.cut]
		return firewall.Decision{Action: p.def, DecidedBy: firewall.ByPolicyDefault, PolicyID: p.id, Revision: m.revision}
	}
	return firewall.Decision{Action: m.fwDefault, DecidedBy: firewall.ByFirewallDefault, Revision: m.revision}
}

// explain evaluates f and reports every policy visited on the way.
func (m *Matcher) explain(f *firewall.Flow, now time.Time) firewall.Decision {
	var expired []int32
	best := m.lookup(f, now, &expired)
	d := m.decide(best)
	// Keep the expired matches that come before the decision, once each,
	// in evaluation order.
	slices.Sort(expired)
	expired = slices.Compact(expired)
	n := 0
	for _, o := range expired {
		if o < best {
			expired[n] = o
			n++
		}
	}
	expired = expired[:n]

	decidingPolicy := int32(-1)
	switch d.DecidedBy {
	case firewall.ByRule:
		decidingPolicy = m.rules[best].policy
	case firewall.ByPolicyDefault:
		decidingPolicy = m.cut
	}
	path := make([]firewall.Step, 0, len(m.policies))
	for pi := range m.policies {
		p := &m.policies[pi]
		st := firewall.Step{PolicyID: p.id, PolicyName: p.name}
		if !p.enabled {
			st.Outcome = firewall.OutcomeDisabled
			path = append(path, st)
			continue
		}
		for len(expired) > 0 && m.rules[expired[0]].policy == int32(pi) {
			if len(st.ExpiredRules) < firewall.MaxExpiredRules {
				st.ExpiredRules = append(st.ExpiredRules, m.rules[expired[0]].id)
			}
			expired = expired[1:]
		}
		switch {
		case int32(pi) == decidingPolicy && d.DecidedBy == firewall.ByRule:
			st.Outcome = firewall.OutcomeRuleMatched
			st.RuleID = d.RuleID
			if g := m.rules[best].groups; g >= 0 {
				m.groups[g].name(&st, f)
			}
		case int32(pi) == decidingPolicy:
			st.Outcome = firewall.OutcomePolicyDefault
		default:
			st.Outcome = firewall.OutcomeFellThrough
		}
		path = append(path, st)
		if int32(pi) == decidingPolicy {
			break
		}
	}
	d.Path = path
	return d
}
