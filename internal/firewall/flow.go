package firewall

import "net/netip"

// Tree is a firewall with its policies and their rules: what the engine,
// analysis and export work on.
type Tree struct {
	Firewall Firewall
	Policies []PolicyTree // any order; Compile sorts by priority
	// Groups holds the groups the rules refer to, nesting included.
	Groups Groups
}

// PolicyTree is a policy with its rules (any order; Compile sorts by position).
type PolicyTree struct {
	Policy Policy
	Rules  []Rule
}

// Flow is one packet flow to decide.
type Flow struct {
	Protocol                    Protocol // tcp, udp, icmp or icmpv6 (never "any")
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
	Action    Action
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
	// The groups through which the matching rule matched, by name: the
	// first of its source, destination and service groups that holds the
	// flow's value. Empty where the rule has no groups, or none of them
	// holds the value (a literal entry matched).
	SourceGroup, DestinationGroup, ServiceGroup string
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

// ProtocolFamilyProblem says why protocol p cannot travel between
// addresses of a's family, or returns "": icmp is IPv4's and icmpv6 IPv6's,
// so no real packet is an icmp flow between IPv6 addresses or an icmpv6
// flow between IPv4 ones. Evaluation refuses such flows, so that the
// engine, analysis and an exported ruleset speak of the same flows.
func ProtocolFamilyProblem(p Protocol, a netip.Addr) string {
	switch {
	case p == ICMP && a.Is6():
		return "protocol icmp is IPv4's; for IPv6 addresses use icmpv6"
	case p == ICMPv6 && a.Is4():
		return "protocol icmpv6 is IPv6's; for IPv4 addresses use icmp"
	}
	return ""
}
