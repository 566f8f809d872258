package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/fireflow/fireflow/internal/analysis"
	"github.com/fireflow/fireflow/internal/firewall"
)

// TreeDiff is the structural difference between two trees, elements
// matched by id.
type TreeDiff struct {
	Firewall []FieldChange `json:"firewall" doc:"The firewall's own fields that changed."`
	Policies []PolicyDiff  `json:"policies" doc:"Policies added, removed or changed."`
	Rules    []RuleDiff    `json:"rules" doc:"Rules added, removed, changed or moved."`
}

// Empty reports whether the trees are the same.
func (d TreeDiff) Empty() bool {
	return len(d.Firewall) == 0 && len(d.Policies) == 0 && len(d.Rules) == 0
}

// FieldChange is one field whose value differs.
type FieldChange struct {
	Field string          `json:"field" doc:"The field's name."`
	Old   json.RawMessage `json:"old" doc:"The value before."`
	New   json.RawMessage `json:"new" doc:"The value after."`
}

// The kinds of element change.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
	ChangeMoved   = "moved"
)

// PolicyDiff is one policy that differs.
type PolicyDiff struct {
	ID     string        `json:"id" doc:"The policy's id."`
	Name   string        `json:"name" doc:"The policy's name."`
	Change string        `json:"change" enum:"added,removed,changed" doc:"added, removed or changed."`
	Fields []FieldChange `json:"fields,omitempty" doc:"For changed: the fields that differ."`
}

// RuleDiff is one rule that differs. A rule both changed and moved is
// listed as changed, with moved set.
type RuleDiff struct {
	ID          string        `json:"id" doc:"The rule's id."`
	PolicyID    string        `json:"policy_id" doc:"The policy the rule is in (in the newer tree, unless removed)."`
	Name        string        `json:"name,omitempty" doc:"The rule's name, if any."`
	Change      string        `json:"change" enum:"added,removed,changed,moved" doc:"added, removed, changed or moved."`
	Moved       bool          `json:"moved,omitempty" doc:"The rule's place among the rules both trees share changed."`
	OldPosition int           `json:"old_position,omitempty" doc:"The rule's position in the older tree."`
	NewPosition int           `json:"new_position,omitempty" doc:"The rule's position in the newer tree."`
	OldPolicyID string        `json:"old_policy_id,omitempty" doc:"Set when the rule changed policy."`
	Fields      []FieldChange `json:"fields,omitempty" doc:"For changed: the fields that differ."`
}

// Fields that are bookkeeping, not content: a tree read back later differs
// in them without changing anything.
var metaFields = []string{"id", "etag", "created_at", "updated_at", "revision", "firewall_id", "policy_id", "position"}

// fieldChanges compares a and b field by field through their JSON form.
func fieldChanges(a, b any) []FieldChange {
	fa, fb := fieldsOf(a), fieldsOf(b)
	var out []FieldChange
	keys := make([]string, 0, len(fa)+len(fb))
	for k := range fa {
		keys = append(keys, k)
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if slices.Contains(metaFields, k) {
			continue
		}
		va, vb := normal(fa[k]), normal(fb[k])
		if !bytes.Equal(va, vb) {
			out = append(out, FieldChange{Field: k, Old: va, New: vb})
		}
	}
	return out
}

func fieldsOf(v any) map[string]json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("service: domain value does not encode: %v", err)) // domain types always encode
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	return m
}

// normal makes an absent value, null and an empty list or map compare equal.
func normal(v json.RawMessage) json.RawMessage {
	switch string(v) {
	case "", "[]", "{}":
		return json.RawMessage("null")
	}
	return v
}

// DiffTrees gives what changed from old to newer.
func DiffTrees(old, newer firewall.Tree) TreeDiff {
	d := TreeDiff{Firewall: fieldChanges(old.Firewall, newer.Firewall)}
	oldPol := map[string]*firewall.PolicyTree{}
	for i := range old.Policies {
		oldPol[old.Policies[i].Policy.ID] = &old.Policies[i]
	}
	newPol := map[string]bool{}
	for i := range newer.Policies {
		np := &newer.Policies[i]
		newPol[np.Policy.ID] = true
		op := oldPol[np.Policy.ID]
		if op == nil {
			d.Policies = append(d.Policies, PolicyDiff{ID: np.Policy.ID, Name: np.Policy.Name, Change: ChangeAdded})
			continue
		}
		if f := fieldChanges(op.Policy, np.Policy); len(f) > 0 {
			d.Policies = append(d.Policies, PolicyDiff{ID: np.Policy.ID, Name: np.Policy.Name, Change: ChangeChanged, Fields: f})
		}
	}
	for _, op := range old.Policies {
		if !newPol[op.Policy.ID] {
			d.Policies = append(d.Policies, PolicyDiff{ID: op.Policy.ID, Name: op.Policy.Name, Change: ChangeRemoved})
		}
	}
	d.Rules = diffRules(old, newer)
	// Empty lists, not null, in the API's answers.
	d.Firewall = nonNil(d.Firewall)
	d.Policies = nonNil(d.Policies)
	d.Rules = nonNil(d.Rules)
	return d
}

type placed struct {
	r   *firewall.Rule
	pos int
}

func rulesByID(t firewall.Tree) map[string]placed {
	m := map[string]placed{}
	for i := range t.Policies {
		rules := sortedRules(t.Policies[i].Rules)
		for j := range rules {
			m[rules[j].ID] = placed{&rules[j], j + 1}
		}
	}
	return m
}

func sortedRules(rs []firewall.Rule) []firewall.Rule {
	out := slices.Clone(rs)
	slices.SortStableFunc(out, func(a, b firewall.Rule) int { return a.Position - b.Position })
	return out
}

func diffRules(old, newer firewall.Tree) []RuleDiff {
	oldRules := rulesByID(old)
	var out []RuleDiff
	seen := map[string]bool{}
	for i := range newer.Policies {
		rules := sortedRules(newer.Policies[i].Rules)
		moved := movedRules(rules, oldRules, newer.Policies[i].Policy.ID)
		for j := range rules {
			nr := &rules[j]
			seen[nr.ID] = true
			o, ok := oldRules[nr.ID]
			if !ok {
				out = append(out, RuleDiff{ID: nr.ID, PolicyID: nr.PolicyID, Name: nr.Name, Change: ChangeAdded, NewPosition: j + 1})
				continue
			}
			rd := RuleDiff{ID: nr.ID, PolicyID: nr.PolicyID, Name: nr.Name, OldPosition: o.pos, NewPosition: j + 1,
				Moved: moved[nr.ID]}
			if !sameRule(o.r, nr) {
				rd.Fields = fieldChanges(*o.r, *nr)
			}
			if o.r.PolicyID != nr.PolicyID {
				rd.OldPolicyID, rd.Moved = o.r.PolicyID, true
			}
			switch {
			case len(rd.Fields) > 0:
				rd.Change = ChangeChanged
			case rd.Moved:
				rd.Change = ChangeMoved
			default:
				continue
			}
			out = append(out, rd)
		}
	}
	for i := range old.Policies {
		for _, r := range sortedRules(old.Policies[i].Rules) {
			if !seen[r.ID] {
				out = append(out, RuleDiff{ID: r.ID, PolicyID: r.PolicyID, Name: r.Name, Change: ChangeRemoved,
					OldPosition: oldRules[r.ID].pos})
			}
		}
	}
	return out
}

// movedRules finds the rules of one policy whose order relative to the
// other rules both trees share in that policy changed: those outside a
// longest run kept in the old order. Inserting or deleting a rule shifts
// positions but moves nothing.
func movedRules(rules []firewall.Rule, old map[string]placed, policyID string) map[string]bool {
	var ids []string
	var seq []int
	for _, r := range rules {
		if o, ok := old[r.ID]; ok && o.r.PolicyID == policyID {
			ids, seq = append(ids, r.ID), append(seq, o.pos)
		}
	}
	keep := longestIncreasing(seq)
	moved := map[string]bool{}
	for i, id := range ids {
		if !keep[i] {
			moved[id] = true
		}
	}
	return moved
}

// longestIncreasing marks one longest strictly increasing subsequence of seq.
func longestIncreasing(seq []int) []bool {
	tails := []int{} // indexes into seq
	prev := make([]int, len(seq))
	for i, v := range seq {
		k := sort.Search(len(tails), func(j int) bool { return seq[tails[j]] >= v })
		if k > 0 {
			prev[i] = tails[k-1]
		} else {
			prev[i] = -1
		}
		if k == len(tails) {
			tails = append(tails, i)
		} else {
			tails[k] = i
		}
	}
	keep := make([]bool, len(seq))
	if len(tails) > 0 {
		for i := tails[len(tails)-1]; i >= 0; i = prev[i] {
			keep[i] = true
		}
	}
	return keep
}

// SemanticDiff is what a change does to the flows: the regions of the
// header space whose decision changes, each with an example flow.
type SemanticDiff struct {
	// NoOp is true when no flow's decision changes.
	NoOp bool
	// Total counts the regions; Regions lists at most the number asked for.
	Total   int
	Regions []ChangedRegion
}

// ChangedRegion is a set of flows decided one way before and another
// after, with one flow of it and both decisions.
type ChangedRegion struct {
	Example  firewall.Flow
	Old, New firewall.Decision
}

// models compiles both trees for analysis at the same instant.
func (s *Service) models(old, newer firewall.Tree) (*analysis.Model, *analysis.Model, error) {
	now := s.now()
	mo, err := analysis.New(old, now)
	if err != nil {
		return nil, nil, fmt.Errorf("analyse the older tree: %w", err)
	}
	mn, err := analysis.New(newer, now)
	if err != nil {
		return nil, nil, fmt.Errorf("analyse the newer tree: %w", err)
	}
	return mo, mn, nil
}

func compareModels(mo, mn *analysis.Model, maxRegions int) (SemanticDiff, error) {
	c, err := analysis.Compare(mo, mn, maxRegions)
	if err != nil {
		return SemanticDiff{}, fmt.Errorf("compare trees: %w", err)
	}
	out := SemanticDiff{NoOp: c.Total == 0, Total: c.Total, Regions: make([]ChangedRegion, len(c.Regions))}
	for i, r := range c.Regions {
		out.Regions[i] = ChangedRegion{Example: r.Example, Old: r.Old, New: r.New}
	}
	return out, nil
}

// FindingChange is an analysis finding a change adds or removes.
type FindingChange struct {
	Kind     string `json:"kind" doc:"The finding's kind, such as unreachable."`
	Severity string `json:"severity" doc:"The finding's severity."`
	PolicyID string `json:"policy_id" doc:"The policy the finding is about."`
	RuleID   string `json:"rule_id,omitempty" doc:"The rule the finding is about, if any."`
	Message  string `json:"message" doc:"What the finding says, such as which rule takes the traffic."`
}

// findingsDiff lists the findings of new that old lacks, and the reverse.
func findingsDiff(mo, mn *analysis.Model) (added, removed []FindingChange, err error) {
	ro, err := mo.Findings(analysis.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("analyse the older tree: %w", err)
	}
	rn, err := mn.Findings(analysis.Options{})
	if err != nil {
		return nil, nil, fmt.Errorf("analyse the newer tree: %w", err)
	}
	added, removed = diffFindings(ro, rn)
	return added, removed, nil
}

// diffFindings lists the findings of rn that ro lacks (added) and those
// of ro that rn lacks (removed).
func diffFindings(ro, rn analysis.Report) (added, removed []FindingChange) {
	key := func(f analysis.Finding) string {
		return string(f.Kind) + "\x00" + f.PolicyID + "\x00" + f.RuleID + "\x00" + f.ConflictsWith
	}
	in := func(fs []analysis.Finding) map[string]bool {
		m := map[string]bool{}
		for _, f := range fs {
			m[key(f)] = true
		}
		return m
	}
	inOld, inNew := in(ro.Findings), in(rn.Findings)
	for _, f := range rn.Findings {
		if !inOld[key(f)] {
			added = append(added, findingChange(f))
		}
	}
	for _, f := range ro.Findings {
		if !inNew[key(f)] {
			removed = append(removed, findingChange(f))
		}
	}
	return added, removed
}

func findingChange(f analysis.Finding) FindingChange {
	return FindingChange{Kind: string(f.Kind), Severity: string(f.Severity), PolicyID: f.PolicyID, RuleID: f.RuleID, Message: f.Message}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// sameRule reports whether two rules have the same content, the cheap way
// round: most rules of a big tree are unchanged, and fieldChanges goes
// through JSON. Group references compare by id: a group renamed since is
// the same group (revision diffs list it among the changed groups).
func sameRule(a, b *firewall.Rule) bool {
	sameTime := a.ExpiresAt == b.ExpiresAt || (a.ExpiresAt != nil && b.ExpiresAt != nil && a.ExpiresAt.Equal(*b.ExpiresAt))
	return a.Name == b.Name && a.Description == b.Description && a.Action == b.Action && a.Protocol == b.Protocol &&
		a.Enabled == b.Enabled && sameTime &&
		slices.Equal(a.Sources, b.Sources) && slices.Equal(a.Destinations, b.Destinations) &&
		slices.Equal(a.SourcePorts, b.SourcePorts) && slices.Equal(a.DestinationPorts, b.DestinationPorts) &&
		sameRefs(a.SourceGroups, b.SourceGroups) && sameRefs(a.DestinationGroups, b.DestinationGroups) &&
		sameRefs(a.ServiceGroups, b.ServiceGroups)
}
