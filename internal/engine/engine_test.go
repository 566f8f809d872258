package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

var now = time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)

// Helpers that keep the table below short.

func fw(def firewall.Action, policies ...firewall.PolicyTree) firewall.Tree {
	f := firewall.NewFirewall()
	f.ID, f.Name, f.DefaultAction, f.Revision = "fw", "fw", def, 7
	return firewall.Tree{Firewall: f, Policies: policies}
}

func pol(id string, priority int, def firewall.Action, rules ...firewall.Rule) firewall.PolicyTree {
	p := firewall.NewPolicy()
	p.ID, p.Name, p.Priority, p.DefaultAction = id, "name of "+id, priority, def
	for i := range rules {
		if rules[i].Position == 0 {
			rules[i].Position = i + 1
		}
		rules[i].PolicyID = id
	}
	return firewall.PolicyTree{Policy: p, Rules: rules}
}

func disabledPol(id string, priority int, def firewall.Action, rules ...firewall.Rule) firewall.PolicyTree {
	p := pol(id, priority, def, rules...)
	p.Policy.Enabled = false
	return p
}

type ruleOpt func(*firewall.Rule)

func rule(id string, a firewall.Action, opts ...ruleOpt) firewall.Rule {
	r := firewall.NewRule()
	r.ID, r.Action = id, a
	for _, o := range opts {
		o(&r)
	}
	return r
}

func proto(p firewall.Protocol) ruleOpt { return func(r *firewall.Rule) { r.Protocol = p } }
func pos(n int) ruleOpt                 { return func(r *firewall.Rule) { r.Position = n } }
func disabled() ruleOpt                 { return func(r *firewall.Rule) { r.Enabled = false } }
func expires(t time.Time) ruleOpt       { return func(r *firewall.Rule) { r.ExpiresAt = &t } }
func src(ps ...string) ruleOpt          { return func(r *firewall.Rule) { r.Sources = prefixes(ps) } }
func dst(ps ...string) ruleOpt          { return func(r *firewall.Rule) { r.Destinations = prefixes(ps) } }
func sports(ps ...string) ruleOpt       { return func(r *firewall.Rule) { r.SourcePorts = portRanges(ps) } }
func dports(ps ...string) ruleOpt {
	return func(r *firewall.Rule) { r.DestinationPorts = portRanges(ps) }
}

func prefixes(ss []string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		if s == "invalid" {
			continue // the zero prefix
		}
		p, err := firewall.ParsePrefix(s)
		if err != nil {
			p = netip.MustParsePrefix(s) // forms the domain refuses, such as IPv4-mapped
		}
		out[i] = p
	}
	return out
}

func portRanges(ss []string) []firewall.PortRange {
	out := make([]firewall.PortRange, len(ss))
	for i, s := range ss {
		r, err := firewall.ParsePortRange(s)
		if err != nil {
			panic(err)
		}
		out[i] = r
	}
	return out
}

func flow(p firewall.Protocol, from, to string, ports ...uint16) firewall.Flow {
	f := firewall.Flow{Protocol: p, Source: netip.MustParseAddr(from), Destination: netip.MustParseAddr(to)}
	if len(ports) == 2 {
		f.SourcePort, f.DestinationPort = ports[0], ports[1]
	}
	return f
}

func tcp(from, to string, sp, dp uint16) firewall.Flow { return flow(firewall.TCP, from, to, sp, dp) }

func byRule(a firewall.Action, policy, rule string) firewall.Decision {
	return firewall.Decision{Action: a, DecidedBy: firewall.ByRule, PolicyID: policy, RuleID: rule, Revision: 7}
}

func byPolicy(a firewall.Action, policy string) firewall.Decision {
	return firewall.Decision{Action: a, DecidedBy: firewall.ByPolicyDefault, PolicyID: policy, Revision: 7}
}

func byFirewall(a firewall.Action) firewall.Decision {
	return firewall.Decision{Action: a, DecidedBy: firewall.ByFirewallDefault, Revision: 7}
}

const (
	allow  = firewall.Allow
	deny   = firewall.Deny
	reject = firewall.Reject
	next   = firewall.Next
)

// TestEvaluateSemantics checks DESIGN §2 "Evaluation of a flow" case by case.
func TestEvaluateSemantics(t *testing.T) {
	hour := time.Hour
	cases := []struct {
		name string
		tree firewall.Tree
		flow firewall.Flow
		at   time.Time // now when zero
		want firewall.Decision
	}{
		{
			name: "lower priority number first, whatever the stored order",
			tree: fw(deny,
				pol("p20", 20, next, rule("r-deny", deny)),
				pol("p10", 10, next, rule("r-allow", allow)),
			),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p10", "r-allow"),
		},
		{
			name: "equal priorities are broken by policy id",
			tree: fw(deny,
				pol("pb", 10, next, rule("r-b", deny)),
				pol("pa", 10, next, rule("r-a", allow)),
			),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "pa", "r-a"),
		},
		{
			name: "default next falls through to the next policy",
			tree: fw(deny,
				pol("p1", 1, next, rule("r-other", deny, dst("192.0.2.0/24"))),
				pol("p2", 2, next, rule("r-match", allow, dst("10.0.0.0/8"))),
			),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p2", "r-match"),
		},
		{
			name: "policy default deny decides and later policies are not reached",
			tree: fw(allow,
				pol("p1", 1, deny, rule("r-other", allow, dst("192.0.2.0/24"))),
				pol("p2", 2, next, rule("r-match", allow)),
			),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byPolicy(deny, "p1"),
		},
		{
			name: "policy default allow",
			tree: fw(deny,
				pol("p1", 1, next),
				pol("p2", 2, allow, rule("r-other", deny, proto(firewall.UDP))),
				pol("p3", 3, deny),
			),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byPolicy(allow, "p2"),
		},
		{
			name: "firewall default deny when every policy falls through",
			tree: fw(deny, pol("p1", 1, next, rule("r", allow, dst("192.0.2.0/24")))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byFirewall(deny),
		},
		{
			name: "firewall default allow with no policies",
			tree: fw(allow),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byFirewall(allow),
		},
		{
			name: "a disabled policy is skipped, its default too",
			tree: fw(allow,
				disabledPol("p1", 1, deny, rule("r-off", deny)),
				pol("p2", 2, next, rule("r-on", reject)),
			),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(reject, "p2", "r-on"),
		},
		{
			name: "a disabled rule never matches",
			tree: fw(deny, pol("p1", 1, next, rule("r-off", deny, disabled()), rule("r-on", allow))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p1", "r-on"),
		},
		{
			name: "a rule that expires exactly now has expired",
			tree: fw(deny, pol("p1", 1, next, rule("r-exp", reject, expires(now)), rule("r-next", allow))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p1", "r-next"),
		},
		{
			name: "a rule that expired a nanosecond ago has expired",
			tree: fw(deny, pol("p1", 1, next, rule("r-exp", reject, expires(now.Add(-1))), rule("r-next", allow))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p1", "r-next"),
		},
		{
			name: "a rule that expires in a nanosecond still matches",
			tree: fw(deny, pol("p1", 1, next, rule("r-exp", reject, expires(now.Add(1))), rule("r-next", allow))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(reject, "p1", "r-exp"),
		},
		{
			name: "expiry is judged at evaluation time, not compile time",
			tree: fw(deny, pol("p1", 1, next, rule("r-exp", reject, expires(now.Add(hour))), rule("r-next", allow))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			at:   now.Add(2 * hour),
			want: byRule(allow, "p1", "r-next"),
		},
		{
			name: "an IPv6 flow never matches IPv4 prefixes, even 0.0.0.0/0",
			tree: fw(deny, pol("p1", 1, next,
				rule("r-v4", allow, src("0.0.0.0/0")),
				rule("r-v4-dst", allow, dst("0.0.0.0/0")),
				rule("r-v6", reject, src("2001:db8::/32")),
			)),
			flow: tcp("2001:db8::1", "2001:db8::2", 1000, 80),
			want: byRule(reject, "p1", "r-v6"),
		},
		{
			name: "an IPv4 flow never matches IPv6 prefixes, even ::/0",
			tree: fw(deny, pol("p1", 1, next, rule("r-v6", allow, dst("::/0")), rule("r-v4", reject, dst("10.0.0.0/8")))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(reject, "p1", "r-v4"),
		},
		{
			name: "an IPv4-mapped IPv6 flow is IPv6: it does not match IPv4 prefixes",
			tree: fw(deny, pol("p1", 1, next, rule("r-v4", allow, src("10.0.0.0/8")), rule("r-v4-host", allow, src("10.0.0.1")))),
			flow: tcp("::ffff:10.0.0.1", "10.0.0.2", 1000, 80),
			want: byFirewall(deny),
		},
		{
			name: "an IPv4-mapped IPv6 flow matches an IPv6 prefix that holds it",
			tree: fw(deny, pol("p1", 1, next, rule("r-v4", reject, src("10.0.0.0/8")), rule("r-mapped", allow, src("::ffff:0:0/96")))),
			flow: tcp("::ffff:10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p1", "r-mapped"),
		},
		{
			name: "protocol tcp does not match udp",
			tree: fw(deny, pol("p1", 1, next, rule("r-tcp", reject, proto(firewall.TCP)), rule("r-udp", allow, proto(firewall.UDP)))),
			flow: flow(firewall.UDP, "10.0.0.1", "10.0.0.2", 1000, 53),
			want: byRule(allow, "p1", "r-udp"),
		},
		{
			name: "protocol any matches icmp",
			tree: fw(deny, pol("p1", 1, next, rule("r-icmp6", reject, proto(firewall.ICMPv6)), rule("r-any", allow))),
			flow: flow(firewall.ICMP, "10.0.0.1", "10.0.0.2"),
			want: byRule(allow, "p1", "r-any"),
		},
		{
			name: "protocol icmpv6",
			tree: fw(deny, pol("p1", 1, next, rule("r-icmp", reject, proto(firewall.ICMP)), rule("r-icmp6", allow, proto(firewall.ICMPv6)))),
			flow: flow(firewall.ICMPv6, "2001:db8::1", "2001:db8::2"),
			want: byRule(allow, "p1", "r-icmp6"),
		},
		{
			name: "a flow protocol no rule names matches only protocol any",
			tree: fw(deny, pol("p1", 1, next, rule("r-tcp", reject, proto(firewall.TCP)), rule("r-any", allow))),
			flow: flow("sctp", "10.0.0.1", "10.0.0.2"),
			want: byRule(allow, "p1", "r-any"),
		},
		{
			name: "an icmp flow never matches a rule with ports, even with protocol any",
			tree: fw(deny, pol("p1", 1, next, rule("r-ports", reject, dports("1-65535")), rule("r-any", allow))),
			flow: flow(firewall.ICMP, "10.0.0.1", "10.0.0.2", 80, 80), // ports on an icmp flow are ignored
			want: byRule(allow, "p1", "r-any"),
		},
		{
			name: "empty sources and destinations match any address of both families",
			tree: fw(deny, pol("p1", 1, next, rule("r-any", allow, proto(firewall.TCP)))),
			flow: tcp("2001:db8::1", "10.0.0.2", 1, 65535),
			want: byRule(allow, "p1", "r-any"),
		},
		{
			name: "any prefix of a list can match",
			tree: fw(deny, pol("p1", 1, next, rule("r-list", allow, src("192.0.2.0/24", "10.1.0.0/16", "2001:db8::/32"), dst("198.51.100.7", "10.0.0.0/30")))),
			flow: tcp("10.1.2.3", "10.0.0.3", 1000, 80),
			want: byRule(allow, "p1", "r-list"),
		},
		{
			name: "a list whose prefixes all miss does not match",
			tree: fw(deny, pol("p1", 1, next, rule("r-list", allow, src("192.0.2.0/24", "10.1.0.0/16"), dst("10.0.0.0/30")))),
			flow: tcp("10.1.2.3", "10.0.0.4", 1000, 80),
			want: byFirewall(deny),
		},
		{
			name: "first match by position wins over a later, more specific rule",
			tree: fw(deny, pol("p1", 1, next,
				rule("r-host", allow, src("10.0.0.1"), dst("10.0.0.2"), proto(firewall.TCP), dports("80"), pos(2)),
				rule("r-broad", reject, src("10.0.0.0/8"), pos(1)),
			)),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(reject, "p1", "r-broad"),
		},
		{
			name: "equal positions are broken by rule id",
			tree: fw(deny, pol("p1", 1, next, rule("r-b", deny, pos(1)), rule("r-a", allow, pos(1)))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p1", "r-a"),
		},
		{
			name: "a list with an invalid entry still matches on its valid ones",
			tree: fw(deny, pol("p1", 1, next, rule("r", allow, src("invalid", "10.0.0.0/8")))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byRule(allow, "p1", "r"),
		},
		{
			name: "a list of invalid entries only is not any: it matches nothing",
			tree: fw(deny, pol("p1", 1, next, rule("r", allow, src("invalid")))),
			flow: tcp("10.0.0.1", "10.0.0.2", 1000, 80),
			want: byFirewall(deny),
		},
	}
	// Port boundaries, destination and source: 443 and 1000-2000.
	portTree := func(opt func(...string) ruleOpt) firewall.Tree {
		return fw(deny, pol("p1", 1, next, rule("r-ports", allow, proto(firewall.TCP), opt("1000-2000", "443"))))
	}
	for _, pc := range []struct {
		port  uint16
		match bool
	}{{999, false}, {1000, true}, {1001, true}, {1999, true}, {2000, true}, {2001, false}, {442, false}, {443, true}, {444, false}, {0, false}, {65535, false}} {
		want := byFirewall(deny)
		if pc.match {
			want = byRule(allow, "p1", "r-ports")
		}
		cases = append(cases,
			struct {
				name string
				tree firewall.Tree
				flow firewall.Flow
				at   time.Time
				want firewall.Decision
			}{fmt.Sprintf("destination port %d", pc.port), portTree(dports), tcp("10.0.0.1", "10.0.0.2", 5, pc.port), time.Time{}, want},
			struct {
				name string
				tree firewall.Tree
				flow firewall.Flow
				at   time.Time
				want firewall.Decision
			}{fmt.Sprintf("source port %d", pc.port), portTree(sports), tcp("10.0.0.1", "10.0.0.2", pc.port, 5), time.Time{}, want},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Compile(tc.tree)
			if err != nil {
				t.Fatal(err)
			}
			at := tc.at
			if at.IsZero() {
				at = now
			}
			got := m.Evaluate(tc.flow, at, false)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate (-want +got):\n%s", diff)
			}
			// The reference agrees with the table, and explain does not
			// change the decision.
			if ref := newRef(&tc.tree).evaluate(tc.flow, at); !sameDecision(ref, tc.want) {
				t.Errorf("reference decided %+v", ref)
			}
			ex := m.Evaluate(tc.flow, at, true)
			ex.Path = nil
			if diff := cmp.Diff(tc.want, ex); diff != "" {
				t.Errorf("Evaluate with explain (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExplainPath(t *testing.T) {
	tree := fw(deny,
		disabledPol("p-off", 1, deny, rule("r-off", deny)),
		pol("p-next", 2, next,
			rule("r-exp1", deny, expires(now.Add(-time.Hour)), pos(1)),
			rule("r-miss", deny, dst("192.0.2.0/24"), pos(2)),
			rule("r-exp2", reject, expires(now), src("10.0.0.0/8"), pos(3)),
			rule("r-exp-miss", reject, expires(now), proto(firewall.UDP), pos(4)),
		),
		pol("p-match", 3, next,
			rule("r-exp3", deny, expires(now.Add(-1)), pos(1)),
			rule("r-hit", allow, dst("10.0.0.0/24"), pos(2)),
			rule("r-exp-after", deny, expires(now.Add(-1)), pos(3)), // after the decision: not reported
		),
		pol("p-later", 4, deny, rule("r-later", deny)),
	)
	m, err := Compile(tree)
	if err != nil {
		t.Fatal(err)
	}
	f := tcp("10.0.0.1", "10.0.0.2", 1000, 80)
	got := m.Evaluate(f, now, true)
	want := firewall.Decision{
		Action: allow, DecidedBy: firewall.ByRule, PolicyID: "p-match", RuleID: "r-hit", Revision: 7,
		Path: []firewall.Step{
			{PolicyID: "p-off", PolicyName: "name of p-off", Outcome: firewall.OutcomeDisabled},
			{PolicyID: "p-next", PolicyName: "name of p-next", Outcome: firewall.OutcomeFellThrough, ExpiredRules: []string{"r-exp1", "r-exp2"}},
			{PolicyID: "p-match", PolicyName: "name of p-match", Outcome: firewall.OutcomeRuleMatched, RuleID: "r-hit", ExpiredRules: []string{"r-exp3"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("explain (-want +got):\n%s", diff)
	}

	t.Run("later policy, expired rules after a miss are all reported", func(t *testing.T) {
		f := tcp("10.0.0.1", "10.9.9.9", 1000, 80)
		got := m.Evaluate(f, now, true)
		want := firewall.Decision{
			Action: deny, DecidedBy: firewall.ByRule, PolicyID: "p-later", RuleID: "r-later", Revision: 7,
			Path: []firewall.Step{
				{PolicyID: "p-off", PolicyName: "name of p-off", Outcome: firewall.OutcomeDisabled},
				{PolicyID: "p-next", PolicyName: "name of p-next", Outcome: firewall.OutcomeFellThrough, ExpiredRules: []string{"r-exp1", "r-exp2"}},
				{PolicyID: "p-match", PolicyName: "name of p-match", Outcome: firewall.OutcomeFellThrough, ExpiredRules: []string{"r-exp3", "r-exp-after"}},
				{PolicyID: "p-later", PolicyName: "name of p-later", Outcome: firewall.OutcomeRuleMatched, RuleID: "r-later"},
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("explain (-want +got):\n%s", diff)
		}
	})

	t.Run("firewall default", func(t *testing.T) {
		m, err := Compile(fw(allow, pol("p1", 1, next, rule("r", deny, dst("192.0.2.0/24"))), disabledPol("p2", 2, deny)))
		if err != nil {
			t.Fatal(err)
		}
		got := m.Evaluate(tcp("10.0.0.1", "10.0.0.2", 1, 2), now, true)
		want := firewall.Decision{Action: allow, DecidedBy: firewall.ByFirewallDefault, Revision: 7, Path: []firewall.Step{
			{PolicyID: "p1", PolicyName: "name of p1", Outcome: firewall.OutcomeFellThrough},
			{PolicyID: "p2", PolicyName: "name of p2", Outcome: firewall.OutcomeDisabled},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("explain (-want +got):\n%s", diff)
		}
	})

	t.Run("policy default outcome", func(t *testing.T) {
		m, err := Compile(fw(allow, pol("p1", 1, deny, rule("r", deny, dst("192.0.2.0/24")))))
		if err != nil {
			t.Fatal(err)
		}
		got := m.Evaluate(tcp("10.0.0.1", "10.0.0.2", 1, 2), now, true)
		want := firewall.Decision{Action: deny, DecidedBy: firewall.ByPolicyDefault, PolicyID: "p1", Revision: 7, Path: []firewall.Step{
			{PolicyID: "p1", PolicyName: "name of p1", Outcome: firewall.OutcomePolicyDefault},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("explain (-want +got):\n%s", diff)
		}
	})

	t.Run("expired rules are bounded", func(t *testing.T) {
		var rules []firewall.Rule
		for i := range 25 {
			rules = append(rules, rule(fmt.Sprintf("r-%02d", i), deny, expires(now)))
		}
		m, err := Compile(fw(allow, pol("p1", 1, next, rules...)))
		if err != nil {
			t.Fatal(err)
		}
		got := m.Evaluate(tcp("10.0.0.1", "10.0.0.2", 1, 2), now, true)
		if len(got.Path) != 1 || len(got.Path[0].ExpiredRules) != firewall.MaxExpiredRules || got.Path[0].ExpiredRules[0] != "r-00" {
			t.Errorf("path %+v, want one step listing the first %d expired rules", got.Path, firewall.MaxExpiredRules)
		}
	})
}

func TestCompile(t *testing.T) {
	t.Run("a firewall default that cannot decide is refused", func(t *testing.T) {
		for _, a := range []firewall.Action{"", firewall.Next, "bogus"} {
			if _, err := Compile(fw(a)); err == nil {
				t.Errorf("Compile accepted firewall default %q", a)
			}
		}
	})
	t.Run("zero values do not panic", func(t *testing.T) {
		tree := firewall.Tree{Firewall: firewall.Firewall{DefaultAction: firewall.Deny}, Policies: []firewall.PolicyTree{
			{}, {Policy: firewall.Policy{Enabled: true}, Rules: []firewall.Rule{{}, {Enabled: true, Action: allow}}},
		}}
		m, err := Compile(tree)
		if err != nil {
			t.Fatal(err)
		}
		// The rule with protocol "" is not valid and matches nothing.
		if got := m.Evaluate(firewall.Flow{}, time.Time{}, true); got.DecidedBy != firewall.ByFirewallDefault {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("revision", func(t *testing.T) {
		tree := fw(deny)
		tree.Firewall.Revision = 42
		m, err := Compile(tree)
		if err != nil {
			t.Fatal(err)
		}
		if m.Revision() != 42 || m.Evaluate(firewall.Flow{}, now, false).Revision != 42 {
			t.Errorf("revision %d, want 42", m.Revision())
		}
	})
	t.Run("the tree is not retained or changed", func(t *testing.T) {
		tree := fw(deny, pol("p1", 1, next, rule("r", allow, src("10.0.0.0/8"), dports("80", "443"))))
		m, err := Compile(tree)
		if err != nil {
			t.Fatal(err)
		}
		tree.Policies[0].Rules[0].Sources[0] = netip.MustParsePrefix("192.0.2.0/24")
		tree.Policies[0].Rules[0].Action = deny
		if got := m.Evaluate(tcp("10.0.0.1", "10.0.0.2", 1, 443), now, false); got.Action != allow {
			t.Errorf("got %+v after changing the tree", got)
		}
	})
}

// TestShadowedEntries checks the entries Compile drops because an earlier
// entry always beats them: a later rule that an earlier one covers only in
// part, or only under a condition, must still decide the flows outside it.
func TestShadowedEntries(t *testing.T) {
	many := make([]string, 9)
	for i := range many {
		many[i] = fmt.Sprintf("10.9.%d.0/24", i)
	}
	past := now.Add(-time.Hour)
	cases := []struct {
		name  string
		first firewall.Rule // in policy p1
		later firewall.Rule // in policy p1 after first, or in p2 when inP2
		inP2  bool
		flow  firewall.Flow
		want  string // the rule that decides
	}{
		{"port range one below", rule("a", allow, proto("tcp"), dst("10.0.0.0/8"), dports("1024-2000")),
			rule("b", deny, proto("tcp"), dst("10.1.0.0/16"), dports("1023-1500")), false,
			tcp("192.0.2.1", "10.1.2.3", 5000, 1023), "b"},
		{"port range one above", rule("a", allow, proto("tcp"), dports("80-90")),
			rule("b", deny, proto("tcp"), dports("80-91")), false,
			tcp("192.0.2.1", "10.1.2.3", 5000, 91), "b"},
		{"inside the range, the earlier rule", rule("a", allow, proto("tcp"), dports("80-90")),
			rule("b", deny, proto("tcp"), dports("85")), false,
			tcp("192.0.2.1", "10.1.2.3", 5000, 85), "a"},
		{"more protocols", rule("a", allow, proto("tcp")),
			rule("b", deny, proto("any"), src("10.0.0.0/8")), false,
			flow(firewall.UDP, "10.0.0.1", "10.1.2.3", 5000, 53), "b"},
		{"a broader source", rule("a", allow, src("10.1.0.0/16")),
			rule("b", deny, src("10.0.0.0/8")), false,
			tcp("10.2.0.1", "10.1.2.3", 5000, 80), "b"},
		{"a broader source, inside the earlier one", rule("a", allow, src("10.1.0.0/16")),
			rule("b", deny, src("10.0.0.0/8")), false,
			tcp("10.1.0.1", "10.1.2.3", 5000, 80), "a"},
		{"an earlier policy", rule("a", allow, dst("2001:db8::/32")),
			rule("b", deny, dst("2001:db8::1/128"), proto("udp")), true,
			flow(firewall.UDP, "2001:db8::9", "2001:db8::1", 5000, 53), "a"},
		{"an expired rule does not shadow", rule("a", allow, expires(past)),
			rule("b", deny, src("10.0.0.0/8")), false,
			tcp("10.0.0.1", "10.1.2.3", 5000, 80), "b"},
		{"source ports do not shadow", rule("a", allow, proto("tcp"), sports("1024-65535")),
			rule("b", deny, proto("tcp"), dst("10.1.0.0/16")), false,
			tcp("10.0.0.1", "10.1.2.3", 1000, 80), "b"},
		{"several ranges do not shadow the gap", rule("a", allow, proto("tcp"), dports("80", "90")),
			rule("b", deny, proto("tcp"), dports("85")), false,
			tcp("10.0.0.1", "10.1.2.3", 5000, 85), "b"},
		{"a long list does not shadow outside it", rule("a", allow, src(many...), dst(many[:8]...)),
			rule("b", deny, src("10.0.0.0/8"), dst("10.9.1.0/24")), false,
			tcp("10.8.0.1", "10.9.1.1", 5000, 80), "b"},
		{"any protocol without ports, icmp", rule("a", allow, src("10.0.0.0/8")),
			rule("b", deny, src("10.1.0.0/16"), proto("icmp")), false,
			flow(firewall.ICMP, "10.1.0.1", "10.1.2.3"), "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.first.Position, tc.later.Position = 1, 2
			tree := fw(deny, pol("p1", 1, next, tc.first, tc.later))
			if tc.inP2 {
				tree = fw(deny, pol("p1", 1, next, tc.first), pol("p2", 2, next, tc.later))
			}
			m, err := Compile(tree)
			if err != nil {
				t.Fatal(err)
			}
			got := m.Evaluate(tc.flow, now, false)
			if got.RuleID != tc.want {
				t.Errorf("decided by %+v, want rule %s", got, tc.want)
			}
			if ref := newRef(&tree).evaluate(tc.flow, now); !sameDecision(ref, got) {
				t.Errorf("reference decided %+v", ref)
			}
		})
	}
}

func TestEvaluateBatch(t *testing.T) {
	tree := fwgen.Realistic(3, 2000, false)
	m, err := Compile(tree)
	if err != nil {
		t.Fatal(err)
	}
	flows := fwgen.RealisticFlows(4, &tree, 500)
	for _, explain := range []bool{false, true} {
		out := make([]firewall.Decision, len(flows))
		m.EvaluateBatch(flows, fwgen.Now, explain, out)
		for i, f := range flows {
			if diff := cmp.Diff(m.Evaluate(f, fwgen.Now, explain), out[i]); diff != "" {
				t.Fatalf("explain %v: flow %d: batch differs from Evaluate:\n%s", explain, i, diff)
			}
		}
	}
	t.Run("short out panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic")
			}
		}()
		m.EvaluateBatch(flows, fwgen.Now, false, make([]firewall.Decision, 1))
	})
}

func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	tree := fwgen.Realistic(5, 5000, false)
	m, err := Compile(tree)
	if err != nil {
		t.Fatal(err)
	}
	flows := fwgen.RealisticFlows(6, &tree, 256)
	out := make([]firewall.Decision, len(flows))
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		out[0] = m.Evaluate(flows[i%len(flows)], fwgen.Now, false)
		i++
	}); n != 0 {
		t.Errorf("Evaluate: %v allocations", n)
	}
	if n := testing.AllocsPerRun(20, func() { m.EvaluateBatch(flows, fwgen.Now, false, out) }); n != 0 {
		t.Errorf("EvaluateBatch: %v allocations", n)
	}
}

// TestConcurrentEvaluate shares one matcher between goroutines (run it
// with -race).
func TestConcurrentEvaluate(t *testing.T) {
	tree := fwgen.Realistic(7, 3000, false)
	m, err := Compile(tree)
	if err != nil {
		t.Fatal(err)
	}
	ref := newRef(&tree)
	flows := fwgen.RealisticFlows(8, &tree, 200)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]firewall.Decision, len(flows))
			m.EvaluateBatch(flows, fwgen.Now, g%2 == 0, out)
			for i, f := range flows {
				if !sameDecision(out[i], ref.evaluate(f, fwgen.Now)) {
					t.Errorf("goroutine %d, flow %d: %+v", g, i, out[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestPairFilter checks that the filter never rules out a pair that has an
// entry before best, also when orders are too big for its words and are
// rounded (firewalls of more than 65,535 rules).
func TestPairFilter(t *testing.T) {
	for _, none := range []int32{100, 1 << 16, 1 << 20, math.MaxInt32} {
		t.Run(fmt.Sprint(none), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(none), 1))
			pairs := make([]pairSlot, 5000)
			for i := range pairs {
				pairs[i] = pairSlot{key: pairKey(r.Int32N(3000)+1, r.Int32N(3000)+1), e: entry{order: r.Int32N(none)}}
			}
			f := newPairFilter(pairs, none)
			if f.shift == 0 && none > 1<<16 {
				t.Fatalf("shift 0 with orders up to %d", none)
			}
			for _, p := range pairs {
				h := hashKey(p.key)
				for _, best := range []int32{p.e.order + 1, p.e.order + 2, none} {
					if !f.has(h, best) {
						t.Fatalf("pair %x of order %d ruled out before %d", p.key, p.e.order, best)
					}
				}
			}
			rejected := 0
			for range 10000 {
				if !f.has(hashKey(pairKey(r.Int32N(3000)+3001, r.Int32N(3000)+1)), none) {
					rejected++
				}
			}
			if rejected < 9000 {
				t.Errorf("only %d of 10000 absent pairs ruled out", rejected)
			}
			if f.has(hashKey(pairs[0].key), 0) {
				t.Errorf("a pair passes before order 0")
			}
		})
	}
}
