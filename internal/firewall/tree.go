package firewall

import (
	"errors"
	"fmt"
)

// Limits of a tree sent whole, as a document. They bound what one request
// can make the service compile and analyse.
const (
	MaxTreePolicies = 1000
	MaxTreeRules    = 200000
)

// Validate checks every firewall, policy and rule of t, and the uniqueness
// rules between them: policy names and priorities within the firewall, rule
// names within a policy. Problem locations name the element, such as
// "policies[1].rules[0].sources[2]". It checks what the stores check on
// every write, so a tree that passes could be stored as it is.
func (t *Tree) Validate() error {
	var ps Problems
	ps.AddFrom("", t.Firewall.Validate())
	if len(t.Policies) > MaxTreePolicies {
		ps.Add("policies", len(t.Policies), "at most %d policies are allowed, got %d", MaxTreePolicies, len(t.Policies))
	}
	names := map[string]int{}
	priorities := map[int]int{}
	rules := 0
	for i := range t.Policies {
		pt := &t.Policies[i]
		at := fmt.Sprintf("policies[%d]", i)
		ps.AddFrom(at+".", pt.Policy.Validate())
		if j, ok := names[NameKey(pt.Policy.Name)]; ok {
			ps.Add(at+".name", pt.Policy.Name, "name %q is already used by policies[%d]", pt.Policy.Name, j)
		}
		names[NameKey(pt.Policy.Name)] = i
		if j, ok := priorities[pt.Policy.Priority]; ok {
			ps.Add(at+".priority", pt.Policy.Priority, "priority %d is already used by policies[%d]", pt.Policy.Priority, j)
		}
		priorities[pt.Policy.Priority] = i
		rules += len(pt.Rules)
		checkRules(&ps, at, pt.Rules)
	}
	if rules > MaxTreeRules {
		ps.Add("policies", rules, "at most %d rules are allowed in a tree, got %d", MaxTreeRules, rules)
	}
	return ps.Err("the firewall tree is not valid")
}

func checkRules(ps *Problems, policyAt string, rules []Rule) {
	names := map[string]int{}
	for j := range rules {
		r := &rules[j]
		at := fmt.Sprintf("%s.rules[%d]", policyAt, j)
		ps.AddFrom(at+".", r.Validate())
		if r.Name == "" {
			continue
		}
		if k, ok := names[NameKey(r.Name)]; ok {
			ps.Add(at+".name", r.Name, "name %q is already used by %s.rules[%d]", r.Name, policyAt, k)
		}
		names[NameKey(r.Name)] = j
	}
}

// AddFrom adds the field problems of err, a validation *Error, to ps, each
// location prefixed with prefix, so that a part's problems can be reported
// within its whole.
func (ps *Problems) AddFrom(prefix string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		return
	}
	for _, p := range e.Problems {
		p.Location = prefix + p.Location
		*ps = append(*ps, p)
	}
}
