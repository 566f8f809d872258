package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// groupTreeMatchesRules checks LoadTree's groups against a plain
// reference: for random rules over randomly nested groups (more than one
// chunk of ids), each tree rule's references equal GetRule's (read from
// the link tables), and the tree's groups are exactly the closure of those
// references under nesting, found by walking GetAddressGroup and
// GetServiceGroup, each equal to what they return. A second firewall's
// groups stay out.
func groupTreeMatchesRules(t *testing.T, f *fixture) {
	r := rand.New(rand.NewPCG(7, 11))
	addr := make([]firewall.AddressGroup, 800)
	svc := make([]firewall.ServiceGroup, 30)
	f.update(func(tx store.Tx) error {
		for i := range addr {
			g := firewall.AddressGroup{Name: fmt.Sprintf("a%03d", i), Labels: map[string]string{}, Groups: []firewall.GroupRef{}}
			for n := r.IntN(3); i > 0 && n > 0; n-- {
				j := r.IntN(i)
				g.Groups = append(g.Groups, refTo(addr[j].ID, addr[j].Name))
			}
			g.ID, g.ETag, g.CreatedAt, g.UpdatedAt = f.id(), f.etag(), f.now(), f.now()
			if err := tx.CreateAddressGroup(f.ctx, &g); err != nil {
				return err
			}
			addr[i] = g
		}
		for i := range svc {
			g := firewall.ServiceGroup{Name: fmt.Sprintf("s%03d", i), Labels: map[string]string{}, Groups: []firewall.GroupRef{},
				Services: []firewall.Service{{Protocol: firewall.TCP, Ports: []firewall.PortRange{{Low: uint16(i + 1), High: uint16(i + 1)}}}}}
			if i > 0 && r.IntN(2) == 0 {
				j := r.IntN(i)
				g.Groups = append(g.Groups, refTo(svc[j].ID, svc[j].Name))
			}
			g.ID, g.ETag, g.CreatedAt, g.UpdatedAt = f.id(), f.etag(), f.now(), f.now()
			if err := tx.CreateServiceGroup(f.ctx, &g); err != nil {
				return err
			}
			svc[i] = g
		}
		return nil
	})
	pickA := func(n int) []firewall.GroupRef {
		var refs []firewall.GroupRef
		for range r.IntN(n + 1) {
			g := addr[r.IntN(len(addr))]
			refs = append(refs, refTo(g.ID, ""))
		}
		return refs
	}
	pickS := func() []firewall.GroupRef {
		if r.IntN(3) > 0 {
			return nil
		}
		g := svc[r.IntN(len(svc))]
		return []firewall.GroupRef{refTo(g.ID, "")}
	}
	build := func(name string, rules int) (firewall.Firewall, []firewall.Rule) {
		fw := f.firewall(name)
		p := f.policy(fw.ID, name+"-p", 1)
		out := make([]firewall.Rule, rules)
		f.update(func(tx store.Tx) error {
			for i := range out {
				rule := f.newRule(fw.ID, p.ID, 0, "")
				rule.SourceGroups, rule.DestinationGroups, rule.ServiceGroups = pickA(4), pickA(3), pickS()
				if err := tx.CreateRule(f.ctx, &rule); err != nil {
					return err
				}
				out[i] = rule
			}
			return nil
		})
		return fw, out
	}
	fw, rules := build("edge", 400)
	build("other", 40)
	// Edits replace references, add some and clear others.
	for _, i := range r.Perm(len(rules))[:30] {
		rule := rules[i]
		rule.SourceGroups, rule.ServiceGroups, rule.ETag, rule.UpdatedAt = pickA(4), pickS(), f.etag(), f.now()
		if i%5 == 0 {
			rule.SourceGroups, rule.DestinationGroups = nil, nil
		}
		f.update(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &rule) })
	}
	tree, err := f.s.LoadTree(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantA, wantS := map[string]firewall.AddressGroup{}, map[string]firewall.ServiceGroup{}
	var walkA func(id string)
	walkA = func(id string) {
		if _, ok := wantA[id]; ok {
			return
		}
		g, err := f.s.GetAddressGroup(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantA[id] = g
		for _, n := range g.Groups {
			walkA(n.ID)
		}
	}
	var walkS func(id string)
	walkS = func(id string) {
		if _, ok := wantS[id]; ok {
			return
		}
		g, err := f.s.GetServiceGroup(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wantS[id] = g
		for _, n := range g.Groups {
			walkS(n.ID)
		}
	}
	for _, got := range tree.Rules {
		want, err := f.s.GetRule(f.ctx, fw.ID, got.PolicyID, got.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "tree rule "+got.ID+" source groups", got.SourceGroups, want.SourceGroups)
		wantEqual(t, "tree rule "+got.ID+" destination groups", got.DestinationGroups, want.DestinationGroups)
		wantEqual(t, "tree rule "+got.ID+" service groups", got.ServiceGroups, want.ServiceGroups)
		for _, ref := range append(append([]firewall.GroupRef{}, want.SourceGroups...), want.DestinationGroups...) {
			walkA(ref.ID)
		}
		for _, ref := range want.ServiceGroups {
			walkS(ref.ID)
		}
	}
	if len(wantA) <= 500 {
		t.Fatalf("the tree uses %d address groups; the test wants more than one chunk of ids", len(wantA))
	}
	wantEqual(t, "tree address groups", tree.Groups.Address, wantA)
	wantEqual(t, "tree service groups", tree.Groups.Service, wantS)
}
