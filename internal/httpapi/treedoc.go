package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

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
	Groups   *GroupsDocument  `json:"groups,omitempty" doc:"The groups the rules use, nesting included, as they were when the document was read. On PUT the server resolves each rule's group references to its existing groups (by the id this section gives for the name, else by name) and does not change the groups; offline tools use the section as the groups."`
}

// GroupsDocument is the groups section of a tree document.
type GroupsDocument struct {
	AddressGroups []AddressGroupDocument `json:"address_groups,omitempty" maxItems:"100000" doc:"Address groups."`
	ServiceGroups []ServiceGroupDocument `json:"service_groups,omitempty" maxItems:"100000" doc:"Service groups."`
}

// AddressGroupDocument is one address group of a tree document.
type AddressGroupDocument struct {
	ID string `json:"id,omitempty" maxLength:"255" doc:"The group's id, if it has one."`
	AddressGroupInput
}

// ServiceGroupDocument is one service group of a tree document.
type ServiceGroupDocument struct {
	ID string `json:"id,omitempty" maxLength:"255" doc:"The group's id, if it has one."`
	ServiceGroupInput
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
	if d.Groups != nil {
		t.Groups = d.Groups.domain(&ps)
		linkRefs(&t)
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
	if len(t.Groups.Address)+len(t.Groups.Service) > 0 {
		d.Groups = groupsDocumentOf(t.Groups)
	}
	return d
}

// domain returns the section's groups by id (the name where a group has
// no id), with their nesting by the same keys.
func (g GroupsDocument) domain(ps *firewall.Problems) firewall.Groups {
	out := firewall.Groups{Address: map[string]firewall.AddressGroup{}, Service: map[string]firewall.ServiceGroup{}}
	for i, ad := range g.AddressGroups {
		ag, err := ad.domain()
		ps.AddFrom(fmt.Sprintf("groups.address_groups[%d].", i), err)
		ag.ID = orDefault(ad.ID, ad.Name)
		out.Address[ag.ID] = ag
	}
	for i, sd := range g.ServiceGroups {
		sg, err := sd.domain()
		ps.AddFrom(fmt.Sprintf("groups.service_groups[%d].", i), err)
		sg.ID = orDefault(sd.ID, sd.Name)
		out.Service[sg.ID] = sg
	}
	link := func(refs []firewall.GroupRef, byName map[string]string) {
		for i := range refs {
			if id, ok := byName[firewall.NameKey(refs[i].Name)]; ok {
				refs[i].ID = id
			}
		}
	}
	addrNames := groupNames(out.Address, func(g firewall.AddressGroup) string { return g.Name })
	svcNames := groupNames(out.Service, func(g firewall.ServiceGroup) string { return g.Name })
	for id, ag := range out.Address {
		link(ag.Groups, addrNames)
		out.Address[id] = ag
	}
	for id, sg := range out.Service {
		link(sg.Groups, svcNames)
		out.Service[id] = sg
	}
	return out
}

// linkRefs gives each rule reference the id the groups section holds for
// its name, so that resolution tries that id first.
func linkRefs(t *firewall.Tree) {
	addr, svc := groupNames(t.Groups.Address, func(g firewall.AddressGroup) string { return g.Name }),
		groupNames(t.Groups.Service, func(g firewall.ServiceGroup) string { return g.Name })
	set := func(refs []firewall.GroupRef, names map[string]string) {
		for i := range refs {
			if id, ok := names[firewall.NameKey(refs[i].Name)]; ok && refs[i].ID == "" {
				// The name field holds what the client wrote: an id or a name.
				refs[i].ID = id
			}
		}
	}
	for i := range t.Policies {
		for j := range t.Policies[i].Rules {
			r := &t.Policies[i].Rules[j]
			set(r.SourceGroups, addr)
			set(r.DestinationGroups, addr)
			set(r.ServiceGroups, svc)
		}
	}
}

func groupNames[G any](groups map[string]G, name func(G) string) map[string]string {
	out := make(map[string]string, 2*len(groups))
	for id, g := range groups {
		out[firewall.NameKey(name(g))] = id
	}
	for id := range groups { // an id wins over a name, as in resolution
		out[firewall.NameKey(id)] = id
	}
	return out
}

func groupsDocumentOf(g firewall.Groups) *GroupsDocument {
	d := &GroupsDocument{}
	for _, ag := range sortedGroups(g.Address, func(a firewall.AddressGroup) string { return a.Name }) {
		d.AddressGroups = append(d.AddressGroups, AddressGroupDocument{ID: ag.ID, AddressGroupInput: AddressGroupInput{
			Name: ag.Name, Description: ag.Description, Labels: ag.Labels, Addresses: texts(ag.Addresses), Groups: refNames(ag.Groups)}})
	}
	for _, sg := range sortedGroups(g.Service, func(s firewall.ServiceGroup) string { return s.Name }) {
		svcs := make([]ServiceSpec, len(sg.Services))
		for i, sv := range sg.Services {
			svcs[i] = ServiceSpec{Protocol: string(sv.Protocol), Ports: texts(sv.Ports)}
		}
		d.ServiceGroups = append(d.ServiceGroups, ServiceGroupDocument{ID: sg.ID, ServiceGroupInput: ServiceGroupInput{
			Name: sg.Name, Description: sg.Description, Labels: sg.Labels, Services: svcs, Groups: refNames(sg.Groups)}})
	}
	return d
}

func sortedGroups[G any](m map[string]G, name func(G) string) []G {
	out := make([]G, 0, len(m))
	for _, g := range m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b G) int { return strings.Compare(firewall.NameKey(name(a)), firewall.NameKey(name(b))) })
	return out
}

// refNames writes references by name, which reads well in git; the groups
// section gives the ids.
func refNames(refs []firewall.GroupRef) []string {
	if len(refs) == 0 {
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = orDefault(r.Name, r.ID)
	}
	return out
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

func firewallInputOf(f firewall.Firewall) FirewallInput {
	return FirewallInput{Name: f.Name, Description: f.Description, Labels: f.Labels, DefaultAction: string(f.DefaultAction)}
}

func policyInputOf(p firewall.Policy) PolicyInput {
	return PolicyInput{Name: p.Name, Description: p.Description, Priority: p.Priority,
		DefaultAction: string(p.DefaultAction), Enabled: &p.Enabled}
}

func ruleInputOf(r firewall.Rule) RuleInput {
	return RuleInput{Name: r.Name, Description: r.Description, Action: string(r.Action), Protocol: string(r.Protocol),
		Sources: texts(r.Sources), Destinations: texts(r.Destinations),
		SourcePorts: texts(r.SourcePorts), DestinationPorts: texts(r.DestinationPorts),
		SourceGroups: refNames(r.SourceGroups), DestinationGroups: refNames(r.DestinationGroups), ServiceGroups: refNames(r.ServiceGroups),
		Enabled: &r.Enabled, ExpiresAt: r.ExpiresAt}
}
