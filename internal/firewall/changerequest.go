package firewall

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ChangeState is where a change request is in its review.
type ChangeState string

// The states of a change request. open → approved or rejected; approved →
// applied or stale; open and approved → cancelled. Rejected, applied,
// cancelled and stale are final.
const (
	ChangeOpen      ChangeState = "open"
	ChangeApproved  ChangeState = "approved"
	ChangeRejected  ChangeState = "rejected"
	ChangeApplied   ChangeState = "applied"
	ChangeCancelled ChangeState = "cancelled"
	ChangeStale     ChangeState = "stale"
)

// ChangeStates lists every state, for documentation and filters.
func ChangeStates() []ChangeState {
	return []ChangeState{ChangeOpen, ChangeApproved, ChangeRejected, ChangeApplied, ChangeCancelled, ChangeStale}
}

// Limits of a change request.
const (
	MaxOperations       = 1000
	MaxChangeTitleLen   = 255
	MaxChangeDescLen    = 8192
	MaxChangeCommentLen = 4096
)

// OpKind is what one operation of a change request does.
type OpKind string

// The operations a change request can hold: the tree's own writes.
const (
	OpCreatePolicy OpKind = "create_policy"
	OpPatchPolicy  OpKind = "patch_policy"
	OpDeletePolicy OpKind = "delete_policy"
	OpCreateRule   OpKind = "create_rule"
	OpPatchRule    OpKind = "patch_rule"
	OpMoveRule     OpKind = "move_rule"
	OpDeleteRule   OpKind = "delete_rule"
)

// OpKinds lists every operation kind.
func OpKinds() []OpKind {
	return []OpKind{OpCreatePolicy, OpPatchPolicy, OpDeletePolicy, OpCreateRule, OpPatchRule, OpMoveRule, OpDeleteRule}
}

// Operation is one write to a firewall's tree, as a change request holds it.
// A policy is named by PolicyID or PolicyName, a rule by RuleID or
// RuleName within that policy, so that an operation can act on a policy an
// earlier operation of the same request creates.
type Operation struct {
	Op         OpKind `json:"op"`
	PolicyID   string `json:"policy_id,omitempty"`
	PolicyName string `json:"policy_name,omitempty"`
	RuleID     string `json:"rule_id,omitempty"`
	RuleName   string `json:"rule_name,omitempty"`
	// Policy is the policy create_policy makes.
	Policy *Policy `json:"policy,omitempty"`
	// Rule is the rule create_rule makes, at Rule.Position (0: the end).
	Rule        *Rule        `json:"rule,omitempty"`
	PolicyPatch *PolicyPatch `json:"policy_patch,omitempty"`
	RulePatch   *RulePatch   `json:"rule_patch,omitempty"`
	// Position, Before or After say where move_rule moves the rule.
	Position int    `json:"position,omitempty"`
	Before   string `json:"before,omitempty"`
	After    string `json:"after,omitempty"`
	// Cascade lets delete_policy delete a policy that has rules.
	Cascade bool `json:"cascade,omitempty"`
}

// Check records the problems of op's shape, each location under at: the
// fields its kind needs and no others.
func (op *Operation) Check(ps *Problems, at string) {
	needPolicy := func() {
		if (op.PolicyID == "") == (op.PolicyName == "") {
			ps.Add(at+".policy_id", op.PolicyID, "give exactly one of policy_id or policy_name")
		}
	}
	needRule := func() {
		needPolicy()
		if (op.RuleID == "") == (op.RuleName == "") {
			ps.Add(at+".rule_id", op.RuleID, "give exactly one of rule_id or rule_name")
		}
	}
	only := func(allowed ...string) {
		present := map[string]bool{"policy": op.Policy != nil, "rule": op.Rule != nil, "policy_patch": op.PolicyPatch != nil,
			"rule_patch": op.RulePatch != nil, "position": op.Position != 0, "before": op.Before != "", "after": op.After != "",
			"cascade": op.Cascade,
			"rule_id": op.RuleID != "" || op.RuleName != ""}
		for _, f := range []string{"policy", "rule", "policy_patch", "rule_patch", "position", "before", "after", "cascade", "rule_id"} {
			if present[f] && !slices.Contains(allowed, f) {
				ps.Add(at+"."+f, nil, "%s does not belong in a %s operation", f, op.Op)
			}
		}
	}
	switch op.Op {
	case OpCreatePolicy:
		only("policy")
		if op.Policy == nil {
			ps.Add(at+".policy", nil, "create_policy needs the policy to create")
		} else {
			ps.AddFrom(at+".policy.", op.Policy.Validate())
		}
		if op.PolicyID != "" || op.PolicyName != "" {
			ps.Add(at+".policy_id", op.PolicyID, "create_policy names its policy in policy, not policy_id or policy_name")
		}
	case OpPatchPolicy:
		only("policy_patch")
		needPolicy()
		if op.PolicyPatch == nil {
			ps.Add(at+".policy_patch", nil, "patch_policy needs a policy_patch")
		}
	case OpDeletePolicy:
		only("cascade")
		needPolicy()
	case OpCreateRule:
		only("rule")
		needPolicy()
		if op.Rule == nil {
			ps.Add(at+".rule", nil, "create_rule needs the rule to create")
		} else {
			ps.AddFrom(at+".rule.", op.Rule.Validate())
			if op.Rule.Position < 0 {
				ps.Add(at+".rule.position", op.Rule.Position, "position must be 1 or more, or left out for the end")
			}
		}
	case OpPatchRule:
		only("rule_patch", "rule_id")
		needRule()
		if op.RulePatch == nil {
			ps.Add(at+".rule_patch", nil, "patch_rule needs a rule_patch")
		}
	case OpMoveRule:
		only("position", "before", "after", "rule_id")
		needRule()
		set := 0
		for _, given := range []bool{op.Position != 0, op.Before != "", op.After != ""} {
			if given {
				set++
			}
		}
		if set != 1 {
			ps.Add(at+".position", op.Position, "move_rule needs exactly one of position, before or after")
		}
		if op.Position < 0 {
			ps.Add(at+".position", op.Position, "position must be 1 or more")
		}
	case OpDeleteRule:
		only("rule_id")
		needRule()
	default:
		ps.Add(at+".op", op.Op, "op must be one of %s", joinKinds(OpKinds()))
	}
}

func joinKinds(ks []OpKind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// CheckOperations records the problems of a list of operations under
// "operations".
func CheckOperations(ps *Problems, ops []Operation) {
	if len(ops) == 0 {
		ps.Add("operations", nil, "operations must hold at least one operation")
	}
	if len(ops) > MaxOperations {
		ps.Add("operations", len(ops), "at most %d operations are allowed, got %d", MaxOperations, len(ops))
		return
	}
	for i := range ops {
		ops[i].Check(ps, fmt.Sprintf("operations[%d]", i))
	}
}

// DecodeOperations reads a JSON list of operations, refusing unknown
// fields, and checks their shape. The stores keep operations in this form.
func DecodeOperations(data []byte) ([]Operation, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var ops []Operation
	if err := dec.Decode(&ops); err != nil {
		var ps Problems
		ps.Add("operations", nil, "operations must be a JSON list of operations: %v", err)
		return nil, ps.Err("the operations are not valid")
	}
	if dec.More() {
		var ps Problems
		ps.Add("operations", nil, "unexpected data after the list of operations")
		return nil, ps.Err("the operations are not valid")
	}
	var ps Problems
	CheckOperations(&ps, ops)
	if err := ps.Err("the operations are not valid"); err != nil {
		return nil, err
	}
	return ops, nil
}

// ApplyOperations returns t with ops applied in order, t itself unchanged.
// Each operation behaves as the API's write of the same kind: positions
// shift, names and priorities stay unique, a policy with rules is deleted
// only with cascade. Elements an operation creates take the ids the
// operation carries. A failing operation is reported at its place, such
// as "operations[2].rule_id".
func ApplyOperations(t Tree, ops []Operation) (Tree, error) {
	out := Tree{Firewall: t.Firewall, Policies: append([]PolicyTree(nil), t.Policies...)}
	for i := range ops {
		at := fmt.Sprintf("operations[%d]", i)
		var ps Problems
		applyOp(&out, &ops[i], at, &ps)
		if err := ps.Err(fmt.Sprintf("operation %d does not apply", i)); err != nil {
			return Tree{}, err
		}
	}
	if err := out.Validate(); err != nil {
		return Tree{}, err
	}
	return out, nil
}

func findPolicy(t *Tree, op *Operation, at string, ps *Problems) int {
	for i := range t.Policies {
		p := &t.Policies[i].Policy
		if (op.PolicyID != "" && p.ID == op.PolicyID) || (op.PolicyID == "" && NameKey(p.Name) == NameKey(op.PolicyName)) {
			return i
		}
	}
	if op.PolicyID != "" {
		ps.Add(at+".policy_id", op.PolicyID, "no filtering policy %q in the firewall", op.PolicyID)
	} else {
		ps.Add(at+".policy_name", op.PolicyName, "no filtering policy named %q in the firewall", op.PolicyName)
	}
	return -1
}

func findRule(rules []Rule, id, name, at string, ps *Problems) int {
	for j := range rules {
		if (id != "" && rules[j].ID == id) || (id == "" && rules[j].Name != "" && NameKey(rules[j].Name) == NameKey(name)) {
			return j
		}
	}
	if id != "" {
		ps.Add(at+".rule_id", id, "no rule %q in this filtering policy", id)
	} else {
		ps.Add(at+".rule_name", name, "no rule named %q in this filtering policy", name)
	}
	return -1
}

// policyClash records a name or priority of p that another policy of t
// already has.
func policyClash(t *Tree, p *Policy, at string, ps *Problems) {
	for _, o := range t.Policies {
		if o.Policy.ID == p.ID {
			continue
		}
		if NameKey(o.Policy.Name) == NameKey(p.Name) {
			ps.Add(at+".name", p.Name, "a filtering policy named %q already exists", o.Policy.Name)
		}
		if o.Policy.Priority == p.Priority {
			ps.Add(at+".priority", p.Priority, "priority %d is already used by filtering policy %q", p.Priority, o.Policy.Name)
		}
	}
}

func ruleClash(rules []Rule, r *Rule, at string, ps *Problems) {
	if r.Name == "" {
		return
	}
	for _, o := range rules {
		if o.ID != r.ID && NameKey(o.Name) == NameKey(r.Name) {
			ps.Add(at+".name", r.Name, "a rule named %q already exists in this filtering policy", o.Name)
		}
	}
}

// sortedByPosition returns a copy of rules in position order, renumbered 1..n.
func sortedByPosition(rules []Rule) []Rule {
	out := slices.Clone(rules)
	slices.SortStableFunc(out, func(a, b Rule) int { return a.Position - b.Position })
	renumber(out)
	return out
}

func renumber(rules []Rule) {
	for i := range rules {
		rules[i].Position = i + 1
	}
}

func applyOp(t *Tree, op *Operation, at string, ps *Problems) {
	switch op.Op {
	case OpCreatePolicy:
		p := *op.Policy
		p.FirewallID = t.Firewall.ID
		policyClash(t, &p, at+".policy", ps)
		t.Policies = append(t.Policies, PolicyTree{Policy: p})
		return
	case OpCreateRule, OpPatchPolicy, OpDeletePolicy, OpPatchRule, OpMoveRule, OpDeleteRule:
	default:
		ps.Add(at+".op", op.Op, "unknown operation %q", op.Op)
		return
	}
	pi := findPolicy(t, op, at, ps)
	if pi < 0 {
		return
	}
	pt := &t.Policies[pi]
	switch op.Op {
	case OpPatchPolicy:
		next, err := op.PolicyPatch.Apply(pt.Policy)
		if err != nil {
			ps.AddFrom(at+".policy_patch.", err)
			return
		}
		policyClash(t, &next, at+".policy_patch", ps)
		pt.Policy = next
	case OpDeletePolicy:
		if len(pt.Rules) > 0 && !op.Cascade {
			ps.Add(at+".cascade", false, "filtering policy %q still has %d rules; set cascade to delete them too", pt.Policy.Name, len(pt.Rules))
			return
		}
		t.Policies = append(t.Policies[:pi:pi], t.Policies[pi+1:]...)
	case OpCreateRule:
		rules := sortedByPosition(pt.Rules)
		r := *op.Rule
		r.FirewallID, r.PolicyID = t.Firewall.ID, pt.Policy.ID
		pos := r.Position
		if pos == 0 {
			pos = len(rules) + 1
		}
		if pos < 1 || pos > len(rules)+1 {
			ps.Add(at+".rule.position", r.Position, "position must be between 1 and %d", len(rules)+1)
			return
		}
		ruleClash(rules, &r, at+".rule", ps)
		rules = append(rules[:pos-1:pos-1], append([]Rule{r}, rules[pos-1:]...)...)
		renumber(rules)
		pt.Rules = rules
	case OpPatchRule, OpMoveRule, OpDeleteRule:
		rules := sortedByPosition(pt.Rules)
		j := findRule(rules, op.RuleID, op.RuleName, at, ps)
		if j < 0 {
			return
		}
		switch op.Op {
		case OpPatchRule:
			next, err := op.RulePatch.Apply(rules[j])
			if err != nil {
				ps.AddFrom(at+".rule_patch.", err)
				return
			}
			ruleClash(rules, &next, at+".rule_patch", ps)
			rules[j] = next
		case OpDeleteRule:
			rules = append(rules[:j:j], rules[j+1:]...)
		case OpMoveRule:
			to, ok := movePosition(rules, j, op, at, ps)
			if !ok {
				return
			}
			r := rules[j]
			rules = append(rules[:j:j], rules[j+1:]...)
			rules = append(rules[:to-1:to-1], append([]Rule{r}, rules[to-1:]...)...)
		}
		renumber(rules)
		pt.Rules = rules
	}
}

// movePosition resolves a move as the API's move does: a position 1..n,
// or the place just before or after another rule of the policy.
func movePosition(rules []Rule, j int, op *Operation, at string, ps *Problems) (int, bool) {
	if op.Before == "" && op.After == "" {
		if op.Position < 1 || op.Position > len(rules) {
			ps.Add(at+".position", op.Position, "position must be between 1 and %d", len(rules))
			return 0, false
		}
		return op.Position, true
	}
	field, anchorID := "before", op.Before
	if op.After != "" {
		field, anchorID = "after", op.After
	}
	k := -1
	for i := range rules {
		if rules[i].ID == anchorID {
			k = i
		}
	}
	switch {
	case k < 0:
		ps.Add(at+"."+field, anchorID, "no rule %q in this filtering policy", anchorID)
		return 0, false
	case k == j:
		ps.Add(at+"."+field, anchorID, "a rule cannot be moved relative to itself")
		return 0, false
	}
	to := k + 1 // the anchor's position
	if to > j+1 {
		to--
	}
	if field == "after" {
		to++
	}
	return to, true
}

// ChangeComment is one step of a change request's review, with what the
// person taking it said.
type ChangeComment struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Text   string    `json:"text,omitempty"`
}

// ChangeRequest is a proposed change to a firewall's tree, reviewed before
// it is applied. Exactly one of Operations and Candidate is set.
type ChangeRequest struct {
	Meta
	FirewallID   string      `json:"firewall_id"`
	Title        string      `json:"title"`
	Description  string      `json:"description"`
	BaseRevision int64       `json:"base_revision"`
	Operations   []Operation `json:"operations,omitempty"`
	// Candidate is the whole tree asked for, its elements matched to the
	// base's (ids kept by id, else name; new ones given fresh ids).
	Candidate *Tree `json:"candidate,omitempty"`
	// Base is the tree at BaseRevision the impact was computed against.
	// Lists leave it out.
	Base *Tree `json:"-"`
	// Impact is the service's record of the change's effect on the base,
	// kept as the service encoded it.
	Impact          json.RawMessage `json:"impact"`
	NoOp            bool            `json:"no_op"`
	State           ChangeState     `json:"state"`
	Author          string          `json:"author"`
	Reviewer        string          `json:"reviewer"`
	Comments        []ChangeComment `json:"comments"`
	AppliedRevision int64           `json:"applied_revision"`
	StaleReason     string          `json:"stale_reason"`
}

// Validate checks the fields a client gives: title, description, base
// revision, and exactly one of operations or candidate.
func (cr *ChangeRequest) Validate() error {
	var ps Problems
	checkName(&ps, "title", cr.Title, true)
	if n := utf8.RuneCountInString(cr.Title); n > MaxChangeTitleLen {
		ps.Add("title", n, "title must be at most %d characters, got %d", MaxChangeTitleLen, n)
	}
	if n := utf8.RuneCountInString(cr.Description); n > MaxChangeDescLen {
		ps.Add("description", n, "description must be at most %d characters, got %d", MaxChangeDescLen, n)
	}
	if cr.BaseRevision < 1 {
		ps.Add("base_revision", cr.BaseRevision, "base_revision must be 1 or more: the firewall revision the change was written against")
	}
	switch {
	case cr.Operations != nil && cr.Candidate != nil:
		ps.Add("operations", nil, "give either operations or candidate, not both")
	case cr.Operations == nil && cr.Candidate == nil:
		ps.Add("operations", nil, "give either operations or candidate")
	case cr.Operations != nil:
		CheckOperations(&ps, cr.Operations)
	default:
		ps.AddFrom("candidate.", cr.Candidate.Validate())
	}
	return ps.Err("the change request is not valid")
}

// CheckComment checks a comment given with a transition.
func CheckComment(text string) error {
	var ps Problems
	if n := utf8.RuneCountInString(text); n > MaxChangeCommentLen {
		ps.Add("comment", n, "comment must be at most %d characters, got %d", MaxChangeCommentLen, n)
	}
	return ps.Err("the comment is not valid")
}

// CanMove reports, as a conflict error at "change_request.state" (the
// request's field, not the caller's input), whether cr may go from its
// state to next.
func (cr *ChangeRequest) CanMove(next ChangeState) error {
	from := map[ChangeState][]ChangeState{
		ChangeApproved:  {ChangeOpen},
		ChangeRejected:  {ChangeOpen},
		ChangeCancelled: {ChangeOpen, ChangeApproved},
		ChangeApplied:   {ChangeApproved},
		ChangeStale:     {ChangeApproved},
	}[next]
	for _, s := range from {
		if cr.State == s {
			return nil
		}
	}
	msg := fmt.Sprintf("change request %q is %s; only a request that is %s can become %s", cr.ID, cr.State, joinStates(from), next)
	if cr.State == ChangeStale && cr.StaleReason != "" {
		msg += ": it went stale because " + cr.StaleReason
	}
	return &Error{Code: CodeConflict, Message: msg, Problems: []Problem{{Location: "change_request.state", Message: msg, Value: cr.State}}}
}

func joinStates(ss []ChangeState) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return strings.Join(out, " or ")
}
