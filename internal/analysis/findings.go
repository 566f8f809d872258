package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
)

// Kind is the kind of a finding.
type Kind string

// The kinds of findings.
const (
	Unreachable       Kind = "unreachable"
	Redundant         Kind = "redundant"
	UnreachablePolicy Kind = "unreachable_policy"
	Conflict          Kind = "conflict"
	Expiring          Kind = "expiring"
	Disabled          Kind = "disabled"
	Expired           Kind = "expired"
)

// Kinds lists every kind.
func Kinds() []Kind {
	return []Kind{UnreachablePolicy, Unreachable, Redundant, Conflict, Expired, Expiring, Disabled}
}

// Severity ranks findings: a pipeline fails on findings at or above a
// severity.
type Severity string

// The severities, highest first.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
	SeverityInfo    Severity = "info"
)

// Rank orders severities: higher is worse; 0 for an unknown one.
func (s Severity) Rank() int {
	switch s {
	case SeverityError:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// Severity is the severity of findings of kind k.
func (k Kind) Severity() Severity {
	switch k {
	case Unreachable, UnreachablePolicy:
		return SeverityError
	case Redundant, Expired, Expiring:
		return SeverityWarning
	case Conflict, Disabled:
		return SeverityInfo
	}
	return ""
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k.Severity() != "" }

// Taker is a rule or default that decides flows a finding's rule matches.
type Taker struct {
	DecidedBy firewall.DecidedBy
	PolicyID  string
	RuleID    string
	Action    firewall.Action
}

// Finding is one thing wrong with, or worth knowing about, a firewall.
type Finding struct {
	Kind     Kind
	Severity Severity
	PolicyID string
	RuleID   string // "" for a policy finding
	Message  string
	// Example is a flow that shows the finding, with the decision the
	// firewall makes on it (confirmed by the engine): for redundant, a flow
	// the rule decides; for conflict, a flow both rules match. Nil when
	// there is none (an unreachable rule decides nothing).
	Example *Example
	// CoveredBy lists, for unreachable rules and policies, the earlier
	// rules and defaults that decide all of its flows (at most MaxTakers,
	// in evaluation order); for redundant rules, the later ones that would
	// decide its flows without it. CoveredByTotal counts them all.
	CoveredBy      []Taker
	CoveredByTotal int
	// DifferentAction is set on an unreachable rule when one of the
	// rules or defaults that take its flows acts differently.
	DifferentAction bool
	// ConflictsWith is the later rule of a conflict.
	ConflictsWith string
	// ExpiresAt is the rule's expiry, for expiring and expired.
	ExpiresAt *time.Time
	// Groups lists the groups the rule refers to: its findings are about
	// their members as they are now.
	Groups []GroupUse
}

// MaxTakers bounds Finding.CoveredBy.
const MaxTakers = 10

// Options select what Findings reports.
type Options struct {
	// Kinds to report; empty means all.
	Kinds []Kind
	// ExpiringWithin is the horizon of expiring findings.
	ExpiringWithin time.Duration
	// MaxConflicts bounds the conflicts listed (all are counted); 0 means
	// DefaultMaxConflicts.
	MaxConflicts int
	// Now, when set, is the instant expiring rules are judged from (a
	// cached model keeps the instant it was compiled at).
	Now time.Time
}

// DefaultMaxConflicts is the number of conflicts listed by default.
const DefaultMaxConflicts = 100

// Report is the outcome of an analysis.
type Report struct {
	Revision int64
	Findings []Finding
	// Conflicts counts every conflict, listed or not.
	Conflicts int
}

// results is what one walk of the whole space learns, before it is
// turned into findings.
type results struct {
	reached  []bool
	wit      []point
	witClass []class
	differs  []bool    // a later item with another action takes some of its flows
	takers   [][]int32 // the later items that would take its flows
	maxOrder int
	// covers lists, for each unreachable item, the items that decide its
	// flows, with repeats.
	covers    [][]int32
	conflicts []conflict
	nConflict int
}

type conflict struct {
	first, second int32
	c             class
	p             point
}

// Findings analyses the model. It is exact: every finding is about the
// whole header space, and every example flow is confirmed by the engine.
func (m *Model) Findings(opts Options) (Report, error) {
	want := map[Kind]bool{}
	for _, k := range opts.Kinds {
		want[k] = true
	}
	all := len(want) == 0
	wants := func(k Kind) bool { return all || want[k] }
	if opts.MaxConflicts <= 0 {
		opts.MaxConflicts = DefaultMaxConflicts
	}
	rep := Report{Revision: m.Revision()}
	var res *results
	if wants(Unreachable) || wants(Redundant) || wants(UnreachablePolicy) || wants(Conflict) {
		res = m.explore(wants(Redundant), wants(Unreachable), wants(Conflict), opts.MaxConflicts)
		rep.Conflicts = res.nConflict
	}
	var err error
	add := func(f Finding, exampleItem int, c class, p point) {
		if err != nil {
			return
		}
		f.Severity = f.Kind.Severity()
		if i, ok := m.byRule[f.RuleID]; ok && f.RuleID != "" {
			f.Groups = m.ruleGroups(m.items[i].rule)
		}
		if exampleItem >= 0 {
			ex, e := m.confirm(c.flow(p), exampleItem)
			if e != nil {
				err = e
				return
			}
			f.Example = &ex
		}
		rep.Findings = append(rep.Findings, f)
	}
	if wants(UnreachablePolicy) {
		m.policyFindings(res, add)
	}
	for i := range m.items {
		it := &m.items[i]
		if it.kind != kindRule {
			continue
		}
		pid := m.policies[it.policy].p.ID
		switch {
		case !res.reachedAt(i) && wants(Unreachable):
			add(m.unreachable(i, res), -1, 0, point{})
		case res != nil && res.reached[i] && !res.differs[i] && wants(Redundant):
			f := Finding{Kind: Redundant, PolicyID: pid, RuleID: it.rule.ID}
			tk := slices.Clone(res.takers[i])
			slices.Sort(tk)
			f.CoveredBy, f.CoveredByTotal = m.takers(slices.Compact(tk))
			f.Message = fmt.Sprintf("rule %s is redundant: without it, every flow it decides gets the same action (%s) from %s",
				m.ruleName(i), it.action, m.describeTakers(f.CoveredBy, f.CoveredByTotal))
			add(f, i, res.witClass[i], res.wit[i])
		}
	}
	if wants(Conflict) && res != nil {
		for _, c := range res.conflicts {
			a, b := &m.items[c.first], &m.items[c.second]
			f := Finding{Kind: Conflict, PolicyID: m.policies[a.policy].p.ID, RuleID: a.rule.ID, ConflictsWith: b.rule.ID}
			f.Message = fmt.Sprintf("rules %s (%s) and %s (%s) overlap and neither contains the other: their order decides the flows of the overlap",
				m.ruleName(int(c.first)), a.action, m.ruleName(int(c.second)), b.action)
			ex := Example{Flow: c.c.flow(c.p)}
			ex.Decision = m.matcher.Evaluate(ex.Flow, m.now, false)
			f.Example = &ex
			add(f, -1, 0, point{})
		}
	}
	m.lifecycleFindings(opts, wants, add)
	if err != nil {
		return Report{}, err
	}
	return rep, nil
}

func (r *results) reachedAt(i int) bool { return r == nil || r.reached[i] }

// reachPolicies sets maxOrder to the first item of the last policy that
// some flow reaches (or to the firewall default when every policy is
// reached): a policy is reached when a flow passes every item before it.
func (m *Model) reachPolicies(res *results) {
	probe := int32(len(m.items))
	for pi := len(m.policies) - 1; pi >= 0; pi-- {
		p := m.policies[pi]
		if !p.p.Enabled || m.decidedBefore(pi) {
			continue
		}
		for c := range nClasses {
			w := m.walker(c)
			w.shapes = append(w.shapes, fullShape(c))
			var cands []int32
			for _, it := range m.cands[c] {
				if int(it) < p.start {
					cands = append(cands, it)
				}
			}
			cands = append(cands, probe)
			found := false
			w.walk(c.full(), cands, true, func(_ box, cands []int32) bool {
				found = cands[0] == probe
				return !found
			})
			if found {
				res.maxOrder = max(res.maxOrder, p.start)
				return
			}
		}
	}
}

// decidedBefore reports whether an enabled policy before policy pi has a
// terminal default, which decides every flow that reaches it.
func (m *Model) decidedBefore(pi int) bool {
	for _, q := range m.policies[:pi] {
		if q.p.Enabled && terminal(q.p.DefaultAction) {
			return true
		}
	}
	return false
}

// findConflicts lists pairs of reached rules with different actions whose
// match sets overlap, neither containing the other: the first
// maxConflicts pairs in evaluation order, and the count of all. Each rule
// is taken in turn, with the later reached rules of other actions that
// meet it in any class, each pair once.
func (m *Model) findConflicts(res *results, maxConflicts int) {
	var xs [nClasses]map[firewall.Action]*classIndex
	for c := range nClasses {
		xs[c] = m.reachedIndexes(c, res)
	}
	var buf []int32
	var at []conflict
	sc, seen := newScratch(len(m.items)), newScratch(len(m.items))
	for r := range m.items {
		if m.items[r].kind != kindRule || !res.reached[r] {
			continue
		}
		seen.next()
		at = at[:0]
		for c := range nClasses {
			s := m.shapes[c][r]
			if s == nil {
				continue
			}
			for a, x := range xs[c] {
				if a == m.items[r].action {
					continue
				}
				buf = x.candidates(sc, s, m.shapes[c], int32(r+1), int32(len(m.items)), buf)
				for _, j := range buf {
					if seen.stamp[j] == seen.cur || m.items[j].kind != kindRule || !res.reached[j] || m.items[j].action == m.items[r].action {
						continue
					}
					seen.stamp[j] = seen.cur
					if m.contains(r, int(j)) || m.contains(int(j), r) {
						continue
					}
					res.nConflict++
					if len(res.conflicts) < maxConflicts {
						p, _ := meetPoint(s, m.shapes[c][j])
						at = append(at, conflict{first: int32(r), second: j, c: c, p: p})
					}
				}
			}
		}
		slices.SortFunc(at, func(a, b conflict) int { return cmp.Compare(a.second, b.second) })
		res.conflicts = append(res.conflicts, at[:min(len(at), maxConflicts-len(res.conflicts))]...)
	}
}

// reachedIndexes returns, by action, an index of the reached rules of
// class c, so that a rule looks only among those of other actions. In a
// large rule base that reuses address objects few rules are reached, and
// these indexes are much smaller than the class's; when many are, the
// class's index is used instead (under no action).
func (m *Model) reachedIndexes(c class, res *results) map[firewall.Action]*classIndex {
	byAction := map[firewall.Action][]int32{}
	n := 0
	for _, r := range m.cands[c] {
		if it := &m.items[r]; it.kind == kindRule && res.reached[r] {
			byAction[it.action] = append(byAction[it.action], r)
			n++
		}
	}
	out := map[firewall.Action]*classIndex{}
	switch {
	case len(byAction) < 2:
		return out
	case 4*n >= len(m.cands[c]):
		out[""] = m.index(c)
		return out
	}
	for a, items := range byAction {
		out[a] = m.indexOf(c, items)
	}
	return out
}

// contains reports whether every flow item a matches, item b matches too.
func (m *Model) contains(a, b int) bool {
	for c := range nClasses {
		sa, sb := m.items[a].shapes[c], m.items[b].shapes[c]
		if sa != nil && (sb == nil || !sb.holds(sa)) {
			return false
		}
	}
	return true
}

// unreachable describes an unreachable rule with the items that take its
// flows.
func (m *Model) unreachable(i int, res *results) Finding {
	it := &m.items[i]
	f := Finding{Kind: Unreachable, PolicyID: m.policies[it.policy].p.ID, RuleID: it.rule.ID}
	matches := false
	for _, s := range it.shapes {
		matches = matches || s != nil
	}
	if !matches {
		f.Message = fmt.Sprintf("rule %s can match no flow: %s", m.ruleName(i), m.whyEmpty(it.rule))
		return f
	}
	if res != nil && res.covers != nil {
		cv := distinct(res.covers[i])
		for _, j := range cv {
			f.DifferentAction = f.DifferentAction || m.items[j].action != it.action
		}
		f.CoveredBy, f.CoveredByTotal = m.takers(cv)
	}
	f.Message = fmt.Sprintf("rule %s is unreachable: every flow it matches is decided earlier, by %s", m.ruleName(i), m.describeTakers(f.CoveredBy, f.CoveredByTotal))
	if f.DifferentAction {
		f.Message += fmt.Sprintf(", and not always with its action (%s)", it.action)
	}
	return f
}

// distinct returns the items of l sorted without repeats: l itself when it
// already is (it may be shared), a copy otherwise.
func distinct(l []int32) []int32 {
	for k := 1; k < len(l); k++ {
		if l[k] <= l[k-1] {
			l = slices.Clone(l)
			slices.Sort(l)
			return slices.Compact(l)
		}
	}
	return l
}

// whyEmpty says why a rule's match set is empty.
func whyEmpty(r *firewall.Rule) string {
	switch {
	case (r.Protocol == firewall.ICMP || r.Protocol == firewall.ICMPv6) && (len(r.SourcePorts) > 0 || len(r.DestinationPorts) > 0):
		return "icmp flows have no ports"
	case r.Protocol == firewall.ICMP:
		return "icmp is IPv4 only, and its sources or destinations are all IPv6"
	case r.Protocol == firewall.ICMPv6:
		return "icmpv6 is IPv6 only, and its sources or destinations are all IPv4"
	}
	return "its sources and destinations are of different address families, or its entries are invalid"
}

// takers turns item indexes (distinct, in order) into takers, at most
// MaxTakers, with their count.
func (m *Model) takers(items []int32) ([]Taker, int) {
	out := make([]Taker, 0, min(len(items), MaxTakers))
	for _, j := range items[:min(len(items), MaxTakers)] {
		d := m.decision(int(j))
		out = append(out, Taker{DecidedBy: d.DecidedBy, PolicyID: d.PolicyID, RuleID: d.RuleID, Action: d.Action})
	}
	return out, len(items)
}

func (m *Model) describeTakers(ts []Taker, total int) string {
	if total == 0 {
		return "nothing"
	}
	var parts []string
	for _, t := range ts {
		switch t.DecidedBy {
		case firewall.ByRule:
			parts = append(parts, fmt.Sprintf("rule %s (%s)", m.ruleRef(t.RuleID), t.Action))
		case firewall.ByPolicyDefault:
			parts = append(parts, fmt.Sprintf("the default of policy %s (%s)", t.PolicyID, t.Action))
		default:
			parts = append(parts, fmt.Sprintf("the firewall default (%s)", t.Action))
		}
	}
	s := strings.Join(parts, ", ")
	if total > len(ts) {
		s += fmt.Sprintf(" and %d more", total-len(ts))
	}
	return s
}

func (m *Model) ruleName(i int) string {
	r := m.items[i].rule
	if r.Name != "" {
		return fmt.Sprintf("%q (%s)", r.Name, m.ruleRef(r.ID))
	}
	if note := m.groupNote(r); note != "" {
		return fmt.Sprintf("%s (%s)", r.ID, note)
	}
	return r.ID
}

// policyFindings reports enabled policies no flow reaches.
func (m *Model) policyFindings(res *results, add func(Finding, int, class, point)) {
	for pi, p := range m.policies {
		if !p.p.Enabled || p.start <= res.maxOrder {
			continue
		}
		f := Finding{Kind: UnreachablePolicy, PolicyID: p.p.ID}
		// Name the earliest terminal default before it, if one decides
		// everything; otherwise the rules before it do.
		for _, q := range m.policies[:pi] {
			if q.p.Enabled && terminal(q.p.DefaultAction) {
				f.CoveredBy = []Taker{{DecidedBy: firewall.ByPolicyDefault, PolicyID: q.p.ID, Action: q.p.DefaultAction}}
				f.CoveredByTotal = 1
				break
			}
		}
		if len(f.CoveredBy) > 0 {
			f.Message = fmt.Sprintf("policy %q (%s) is unreachable: the default of policy %s (%s) decides every flow before it", p.p.Name, p.p.ID, f.CoveredBy[0].PolicyID, f.CoveredBy[0].Action)
		} else {
			f.Message = fmt.Sprintf("policy %q (%s) is unreachable: the rules before it decide every flow", p.p.Name, p.p.ID)
		}
		add(f, -1, 0, point{})
	}
}

// lifecycleFindings reports disabled, expired and expiring rules and
// disabled policies.
func (m *Model) lifecycleFindings(opts Options, wants func(Kind) bool, add func(Finding, int, class, point)) {
	at := m.now
	if !opts.Now.IsZero() {
		at = opts.Now
	}
	for _, p := range m.policies {
		if !p.p.Enabled && wants(Disabled) {
			add(Finding{Kind: Disabled, PolicyID: p.p.ID, Message: fmt.Sprintf("policy %q (%s) is disabled: its rules decide nothing", p.p.Name, p.p.ID)}, -1, 0, point{})
		}
		for _, r := range sortedRules(m.policyTree(p.p.ID)) {
			switch {
			case !r.Enabled:
				if wants(Disabled) {
					add(Finding{Kind: Disabled, PolicyID: p.p.ID, RuleID: r.ID, Message: fmt.Sprintf("rule %s is disabled", r.ID)}, -1, 0, point{})
				}
			case r.Expired(m.now):
				if wants(Expired) {
					add(Finding{Kind: Expired, PolicyID: p.p.ID, RuleID: r.ID, ExpiresAt: r.ExpiresAt,
						Message: fmt.Sprintf("rule %s expired at %s and no longer matches", r.ID, r.ExpiresAt.UTC().Format(time.RFC3339))}, -1, 0, point{})
				}
			case r.ExpiresAt != nil && r.ExpiresAt.Sub(at) <= opts.ExpiringWithin:
				if wants(Expiring) {
					add(Finding{Kind: Expiring, PolicyID: p.p.ID, RuleID: r.ID, ExpiresAt: r.ExpiresAt,
						Message: fmt.Sprintf("rule %s expires at %s, in %s", r.ID, r.ExpiresAt.UTC().Format(time.RFC3339), max(0, r.ExpiresAt.Sub(at)).Round(time.Second))}, -1, 0, point{})
				}
			}
		}
	}
}

func (m *Model) policyTree(id string) *firewall.PolicyTree {
	for i := range m.tree.Policies {
		if m.tree.Policies[i].Policy.ID == id {
			return &m.tree.Policies[i]
		}
	}
	return nil
}

func sortedRules(pt *firewall.PolicyTree) []*firewall.Rule {
	if pt == nil {
		return nil
	}
	out := make([]*firewall.Rule, len(pt.Rules))
	for i := range pt.Rules {
		out[i] = &pt.Rules[i]
	}
	slices.SortStableFunc(out, func(a, b *firewall.Rule) int {
		return cmp.Or(cmp.Compare(a.Position, b.Position), cmp.Compare(a.ID, b.ID))
	})
	return out
}
