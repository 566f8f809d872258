package engine

import (
	"net/netip"
	"slices"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Tree is a firewall with its policies and their rules, as loaded from the store.
type Tree struct {
	Firewall firewall.Firewall
	Policies []PolicyTree // any order; Compile sorts by priority
}

// PolicyTree is a policy with its rules (any order; Compile sorts by position).
type PolicyTree struct {
	Policy firewall.Policy
	Rules  []firewall.Rule
}

// Flow is one packet flow to decide.
type Flow struct {
	Protocol                    firewall.Protocol // tcp, udp, icmp or icmpv6 (never "any")
	Source                      netip.Addr
	Destination                 netip.Addr
	SourcePort, DestinationPort uint16 // set for tcp and udp only
}

// DecidedBy says what made a decision.
type DecidedBy string

// What can make a decision.
const (
	ByRule            DecidedBy = "rule"
	ByPolicyDefault   DecidedBy = "policy_default"
	ByFirewallDefault DecidedBy = "firewall_default"
)

// Decision is the outcome for one flow.
type Decision struct {
	Action    firewall.Action
	DecidedBy DecidedBy
	PolicyID  string // "" when the firewall default decided
	RuleID    string // "" unless a rule decided
	Revision  int64  // the firewall revision the matcher was compiled from
	Path      []Step // only when explain was asked for
}

// Step is one policy visited during an explained evaluation.
type Step struct {
	PolicyID   string
	PolicyName string
	Outcome    Outcome
	RuleID     string // the matching rule, when Outcome is OutcomeRuleMatched
	// ExpiredRules holds the ids of rules of this policy that match the flow
	// on every field but had expired, in position order. Only rules that
	// come before the deciding rule are listed (later ones would not have
	// decided anyway), and at most MaxExpiredRules of them.
	ExpiredRules []string
}

// MaxExpiredRules bounds Step.ExpiredRules.
const MaxExpiredRules = 10

// Outcome is what happened in one policy of an explained evaluation.
type Outcome string

// The outcomes of a policy.
const (
	OutcomeDisabled      Outcome = "skipped_disabled" // the policy is disabled
	OutcomeRuleMatched   Outcome = "rule_matched"     // a rule decided
	OutcomePolicyDefault Outcome = "policy_default"   // no rule matched; the policy's allow/deny default decided
	OutcomeFellThrough   Outcome = "fell_through"     // no rule matched; default next moved on
)

// Revision is the firewall revision the matcher was compiled from.
func (m *Matcher) Revision() int64 { return m.revision }

// Evaluate decides one flow at time now. Rules whose expiry is at or before
// now are skipped, as firewall.Rule.Expired says. With explain, the decision
// carries the path of policies visited; without it, Evaluate does not
// allocate.
func (m *Matcher) Evaluate(f Flow, now time.Time, explain bool) Decision {
	if explain {
		return m.explain(&f, now)
	}
	return m.decide(m.lookup(&f, now, nil))
}

// EvaluateBatch decides many flows at time now, writing the decision for
// flows[i] to out[i]. It panics if out is shorter than flows. Without
// explain it does not allocate.
func (m *Matcher) EvaluateBatch(flows []Flow, now time.Time, explain bool, out []Decision) {
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
func (m *Matcher) decide(best int32) Decision {
	if int(best) < len(m.rules) {
		r := &m.rules[best]
		return Decision{Action: actions[r.action], DecidedBy: ByRule, PolicyID: m.policies[r.policy].id, RuleID: r.id, Revision: m.revision}
	}
	if m.cut >= 0 {
		p := &m.policies[m.cut]
		return Decision{Action: p.def, DecidedBy: ByPolicyDefault, PolicyID: p.id, Revision: m.revision}
	}
	return Decision{Action: m.fwDefault, DecidedBy: ByFirewallDefault, Revision: m.revision}
}

// explain evaluates f and reports every policy visited on the way.
func (m *Matcher) explain(f *Flow, now time.Time) Decision {
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
	case ByRule:
		decidingPolicy = m.rules[best].policy
	case ByPolicyDefault:
		decidingPolicy = m.cut
	}
	path := make([]Step, 0, len(m.policies))
	for pi := range m.policies {
		p := &m.policies[pi]
		st := Step{PolicyID: p.id, PolicyName: p.name}
		if !p.enabled {
			st.Outcome = OutcomeDisabled
			path = append(path, st)
			continue
		}
		for len(expired) > 0 && m.rules[expired[0]].policy == int32(pi) {
			if len(st.ExpiredRules) < MaxExpiredRules {
				st.ExpiredRules = append(st.ExpiredRules, m.rules[expired[0]].id)
			}
			expired = expired[1:]
		}
		switch {
		case int32(pi) == decidingPolicy && d.DecidedBy == ByRule:
			st.Outcome = OutcomeRuleMatched
			st.RuleID = d.RuleID
		case int32(pi) == decidingPolicy:
			st.Outcome = OutcomePolicyDefault
		default:
			st.Outcome = OutcomeFellThrough
		}
		path = append(path, st)
		if int32(pi) == decidingPolicy {
			break
		}
	}
	d.Path = path
	return d
}
