package analysis

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
)

// itemKind says what an item of the evaluation order is.
type itemKind uint8

const (
	kindRule itemKind = iota
	kindPolicyDefault
	kindFirewallDefault
)

// item is one step of the evaluation order: an effective rule, the
// terminal default of a policy, or the firewall default (always last).
type item struct {
	kind     itemKind
	action   firewall.Action
	policy   int    // index into Model.policies; -1 for the firewall default
	policyID string // "" for the firewall default
	rule     *firewall.Rule
	src, dst []netip.Prefix // the rule's sets, groups expanded (empty: any)
	shapes   [nClasses]*shape
}

// policyInfo is a policy in evaluation order.
type policyInfo struct {
	p *firewall.Policy
	// start is the index of the first item at or after the policy: a flow
	// reaches the policy when it is decided by an item at or after start.
	start int
}

// Model is a firewall tree compiled for analysis at one instant: the
// effective rules and terminal defaults in evaluation order, each with its
// match set in every class, and the engine's matcher for the same tree,
// which confirms every example flow.
type Model struct {
	tree     firewall.Tree
	now      time.Time
	items    []item
	policies []policyInfo
	matcher  *engine.Matcher
	// cands lists, per class, the items that can match a flow of the class.
	cands [nClasses][]int32
	// byRule maps a rule id to its item.
	byRule map[string]int
	// shapes holds, per class, the items' match sets (nil: never).
	shapes [nClasses][]*shape
	// The indexes are built on first use; a model is safe for concurrent
	// use.
	idxOnce [nClasses]sync.Once
	idx     [nClasses]*classIndex
}

func terminal(a firewall.Action) bool {
	return a == firewall.Allow || a == firewall.Deny || a == firewall.Reject
}

// New compiles t for analysis at time now: rules whose expiry is at or
// before now are out, as in evaluation.
func New(t firewall.Tree, now time.Time) (*Model, error) {
	m0, err := engine.Compile(t)
	if err != nil {
		return nil, fmt.Errorf("analysis: %w", err)
	}
	m := &Model{tree: t, now: now, matcher: m0, byRule: map[string]int{}}
	pidx := make([]int, len(t.Policies))
	for i := range pidx {
		pidx[i] = i
	}
	slices.SortStableFunc(pidx, func(i, j int) int {
		a, c := &t.Policies[i].Policy, &t.Policies[j].Policy
		return cmp.Or(cmp.Compare(a.Priority, c.Priority), cmp.Compare(a.ID, c.ID))
	})
	for _, pi := range pidx {
		pt := &m.tree.Policies[pi]
		m.policies = append(m.policies, policyInfo{p: &pt.Policy, start: len(m.items)})
		if !pt.Policy.Enabled {
			continue
		}
		pol := len(m.policies) - 1
		ridx := make([]int, len(pt.Rules))
		for i := range ridx {
			ridx[i] = i
		}
		slices.SortStableFunc(ridx, func(i, j int) int {
			a, c := &pt.Rules[i], &pt.Rules[j]
			return cmp.Or(cmp.Compare(a.Position, c.Position), cmp.Compare(a.ID, c.ID))
		})
		for _, ri := range ridx {
			r := &pt.Rules[ri]
			if !r.Enabled || r.Expired(now) || !terminal(r.Action) {
				continue
			}
			if _, dup := m.byRule[r.ID]; !dup {
				m.byRule[r.ID] = len(m.items)
			}
			sets := expandRule(&m.tree.Groups, r)
			m.items = append(m.items, item{kind: kindRule, action: r.Action, policy: pol, policyID: pt.Policy.ID, rule: r, src: sets.src, dst: sets.dst, shapes: ruleShapes(r, sets)})
		}
		if terminal(pt.Policy.DefaultAction) {
			m.items = append(m.items, item{kind: kindPolicyDefault, action: pt.Policy.DefaultAction, policy: pol, policyID: pt.Policy.ID, shapes: allShapes()})
		}
	}
	m.items = append(m.items, item{kind: kindFirewallDefault, action: t.Firewall.DefaultAction, policy: -1, shapes: allShapes()})
	for c := range nClasses {
		m.shapes[c] = make([]*shape, len(m.items))
		for i := range m.items {
			if s := m.items[i].shapes[c]; s != nil {
				m.cands[c] = append(m.cands[c], int32(i))
				m.shapes[c][i] = s
			}
		}
	}
	return m, nil
}

func allShapes() [nClasses]*shape {
	var out [nClasses]*shape
	for c := range nClasses {
		out[c] = fullShape(c)
	}
	return out
}

// Tree is the tree the model was compiled from, shared: callers must not
// modify it.
func (m *Model) Tree() firewall.Tree { return m.tree }

// Revision is the firewall revision the model was compiled from.
func (m *Model) Revision() int64 { return m.tree.Firewall.Revision }

// Now is the instant the model judges expiry at.
func (m *Model) Now() time.Time { return m.now }

// walker returns a walker over class c.
func (m *Model) walker(c class) *walker { return &walker{shapes: m.shapes[c]} }

// decision is the decision item i makes.
func (m *Model) decision(i int) firewall.Decision {
	it := &m.items[i]
	d := firewall.Decision{Action: it.action, Revision: m.Revision()}
	switch it.kind {
	case kindRule:
		d.DecidedBy, d.RuleID, d.PolicyID = firewall.ByRule, it.rule.ID, m.policies[it.policy].p.ID
	case kindPolicyDefault:
		d.DecidedBy, d.PolicyID = firewall.ByPolicyDefault, m.policies[it.policy].p.ID
	default:
		d.DecidedBy = firewall.ByFirewallDefault
	}
	return d
}

// Example is a flow with the decision the firewall makes on it.
type Example struct {
	Flow     firewall.Flow
	Decision firewall.Decision
}

// confirm asks the engine to decide f and checks that item i decides it,
// so that no example the analysis gives can disagree with evaluation.
func (m *Model) confirm(f firewall.Flow, i int) (Example, error) {
	want := m.decision(i)
	got := m.matcher.Evaluate(f, m.now, false)
	if got.Action != want.Action || got.DecidedBy != want.DecidedBy || got.RuleID != want.RuleID || got.PolicyID != want.PolicyID {
		return Example{}, fmt.Errorf("analysis: the engine decides %+v as %+v, the analysis as %+v", f, got, want)
	}
	return Example{Flow: f, Decision: got}, nil
}

// ValidUntil is the first instant after the model's at which a rule
// expires, after which the model no longer describes the firewall; zero
// when no rule will expire.
func (m *Model) ValidUntil() time.Time {
	var until time.Time
	for _, pt := range m.tree.Policies {
		for _, r := range pt.Rules {
			if r.ExpiresAt != nil && r.ExpiresAt.After(m.now) && (until.IsZero() || r.ExpiresAt.Before(until)) {
				until = *r.ExpiresAt
			}
		}
	}
	return until
}

// At returns the model of the same tree judged at now: m itself when that
// is its instant.
func (m *Model) At(now time.Time) (*Model, error) {
	if m.now.Equal(now) {
		return m, nil
	}
	return New(m.tree, now)
}
