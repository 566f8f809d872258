package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/fireflow/fireflow/internal/firewall"
)

// TreeDocument is a firewall with its policies and rules in one JSON
// document: the firewall's own fields, its policies in any order, and each
// policy's rules in position order. Its fields are those of the API's
// inputs, so that a document can be written by hand and kept in git.
// Analysis candidates and offline CLI runs take it.
type TreeDocument struct {
	ID string `json:"id,omitempty" maxLength:"255" doc:"The firewall's id, if it has one. Without it the firewall is called \"firewall\" in answers." example:"01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f"`
	FirewallInput
	Revision int64            `json:"revision,omitempty" minimum:"0" doc:"The revision the document was read at, if any; informational." example:"7"`
	Policies []PolicyDocument `json:"policies,omitempty" maxItems:"1000" doc:"The firewall's filtering policies."`
}

// PolicyDocument is one policy of a TreeDocument.
type PolicyDocument struct {
	ID string `json:"id,omitempty" maxLength:"255" doc:"The policy's id, if it has one. Without it the policy is called by its place, such as \"policies[0]\"."`
	PolicyInput
	Rules []RuleDocument `json:"rules,omitempty" maxItems:"200000" doc:"The policy's rules, in position order."`
}

// RuleDocument is one rule of a PolicyDocument. Its position is its place
// in the list; a position field, if given, must agree with it.
type RuleDocument struct {
	ID string `json:"id,omitempty" maxLength:"255" doc:"The rule's id, if it has one. Without it the rule is called by its place, such as \"policies[0].rules[2]\"."`
	RuleInput
}

// Tree converts the document to a validated firewall tree. Elements
// without an id get their place in the document as id, so that findings
// and decisions about them can still be followed back to the document.
func (d TreeDocument) Tree() (firewall.Tree, error) {
	var ps firewall.Problems
	t := firewall.Tree{Firewall: d.domain(), Policies: make([]firewall.PolicyTree, len(d.Policies))}
	t.Firewall.ID = orDefault(d.ID, "firewall")
	t.Firewall.Revision = d.Revision
	for i, pd := range d.Policies {
		at := fmt.Sprintf("policies[%d]", i)
		p := pd.domain()
		p.ID, p.FirewallID = orDefault(pd.ID, at), t.Firewall.ID
		rules := make([]firewall.Rule, 0, len(pd.Rules))
		for j, rd := range pd.Rules {
			rat := fmt.Sprintf("%s.rules[%d]", at, j)
			r, err := rd.domain()
			ps.AddFrom(rat+".", err)
			if rd.Position != 0 && rd.Position != j+1 {
				ps.Add(rat+".position", rd.Position, "position must be %d, the rule's place in the list, or left out", j+1)
			}
			r.ID, r.FirewallID, r.PolicyID, r.Position = orDefault(rd.ID, rat), t.Firewall.ID, p.ID, j+1
			rules = append(rules, r)
		}
		t.Policies[i] = firewall.PolicyTree{Policy: p, Rules: rules}
	}
	if err := ps.Err("the firewall tree is not valid"); err != nil {
		return firewall.Tree{}, err
	}
	if err := t.Validate(); err != nil {
		return firewall.Tree{}, err
	}
	return t, nil
}

// TreeDocumentOf returns the document of a tree, policies in priority
// order as stored.
func TreeDocumentOf(t firewall.Tree) TreeDocument {
	d := TreeDocument{ID: t.Firewall.ID, FirewallInput: firewallInputOf(t.Firewall), Revision: t.Firewall.Revision,
		Policies: make([]PolicyDocument, len(t.Policies))}
	for i, pt := range t.Policies {
		pd := PolicyDocument{ID: pt.Policy.ID, PolicyInput: policyInputOf(pt.Policy), Rules: make([]RuleDocument, len(pt.Rules))}
		for j, r := range pt.Rules {
			pd.Rules[j] = RuleDocument{ID: r.ID, RuleInput: ruleInputOf(r)}
		}
		d.Policies[i] = pd
	}
	return d
}

// DecodeTreeDocument reads a JSON tree document, refusing unknown fields as
// the API does, and returns its validated tree. The CLI uses it for tree
// files.
func DecodeTreeDocument(r io.Reader) (firewall.Tree, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var d TreeDocument
	if err := dec.Decode(&d); err != nil {
		return firewall.Tree{}, fmt.Errorf("read tree document: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return firewall.Tree{}, errors.New("read tree document: unexpected data after the document")
	}
	return d.Tree()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
