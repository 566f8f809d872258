package storetest

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func historyGroupCases() []testCase {
	return []testCase{
		{"History/GroupsReadBackAtEveryRevision", historyGroupsRandom},
		{"History/GroupEditSeenOnlyFromItsRevision", historyGroupEdit},
		{"History/PruneWithGroups", historyGroupsPrune},
		{"History/DeletedGroupStaysInOldRevisions", historyGroupDeleted},
	}
}

// groupRun is a historyRun whose changes also create, edit and delete
// groups (members, nesting, names) and make rules gain and lose group
// references. Every change bumps the firewall's revision, as the service
// does for a group the firewall uses, so the live tree with its groups,
// recorded after each commit, is what each revision must read back.
type groupRun struct {
	*historyRun
	addr, svc []string // live group ids, oldest first: a group nests only older ones
}

func newGroupRun(f *fixture, seed uint64) *groupRun {
	return &groupRun{historyRun: newHistoryRun(f, seed)}
}

func (g *groupRun) step() {
	ops := 1
	if g.rng.IntN(4) == 0 {
		ops = 2 + g.rng.IntN(3)
	}
	g.change(func(tx store.Tx) error {
		for range ops {
			var err error
			switch k := g.rng.IntN(10); {
			case k < 4:
				err = g.groupOp(tx)
			case k < 7 && len(g.policy) > 0:
				err = g.refOp(tx)
			default:
				err = g.op(tx)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// pick returns up to n distinct ids of list[:limit], in random order.
func (g *groupRun) pick(list []string, limit, n int) []string {
	cand := slices.Clone(list[:limit])
	g.rng.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	return cand[:min(n, len(cand))]
}

func (g *groupRun) addrRefs(tx store.Tx, ids []string) []firewall.GroupRef {
	out := []firewall.GroupRef{}
	for _, id := range ids {
		ag, err := tx.GetAddressGroup(g.f.ctx, id)
		if err != nil {
			g.f.t.Fatal(err)
		}
		out = append(out, refTo(id, ag.Name))
	}
	return out
}

func (g *groupRun) svcRefs(tx store.Tx, ids []string) []firewall.GroupRef {
	out := []firewall.GroupRef{}
	for _, id := range ids {
		sg, err := tx.GetServiceGroup(g.f.ctx, id)
		if err != nil {
			g.f.t.Fatal(err)
		}
		out = append(out, refTo(id, sg.Name))
	}
	return out
}

func (g *groupRun) addresses() []netip.Prefix {
	out := []netip.Prefix{}
	for range g.rng.IntN(4) {
		if g.rng.IntN(3) == 0 {
			out = append(out, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", g.rng.IntN(64))))
		} else {
			out = append(out, netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", g.rng.IntN(4), g.rng.IntN(64))))
		}
	}
	return out
}

func (g *groupRun) services() []firewall.Service {
	out := []firewall.Service{}
	for range g.rng.IntN(3) {
		switch g.rng.IntN(3) {
		case 0:
			out = append(out, firewall.Service{Protocol: firewall.ICMP})
		default:
			lo := uint16(1 + g.rng.IntN(1000))
			out = append(out, firewall.Service{Protocol: firewall.TCP, Ports: []firewall.PortRange{{Low: lo, High: lo + uint16(g.rng.IntN(10))}}})
		}
	}
	return out
}

// groupOp creates, edits or deletes a group.
func (g *groupRun) groupOp(tx store.Tx) error {
	f, rng := g.f, g.rng
	at := f.now()
	switch k := rng.IntN(10); {
	case k == 0 || len(g.addr) < 2:
		ag := firewall.AddressGroup{Name: fmt.Sprintf("ag%d", f.ticks.Add(1)), Labels: map[string]string{},
			Addresses: g.addresses(), Groups: g.addrRefs(tx, g.pick(g.addr, len(g.addr), rng.IntN(3)))}
		ag.ID, ag.ETag, ag.CreatedAt, ag.UpdatedAt = f.id(), f.etag(), at, at
		g.addr = append(g.addr, ag.ID)
		return tx.CreateAddressGroup(f.ctx, &ag)
	case k == 1 || len(g.svc) < 2:
		sg := firewall.ServiceGroup{Name: fmt.Sprintf("sg%d", f.ticks.Add(1)), Labels: map[string]string{},
			Services: g.services(), Groups: g.svcRefs(tx, g.pick(g.svc, len(g.svc), rng.IntN(3)))}
		sg.ID, sg.ETag, sg.CreatedAt, sg.UpdatedAt = f.id(), f.etag(), at, at
		g.svc = append(g.svc, sg.ID)
		return tx.CreateServiceGroup(f.ctx, &sg)
	case k < 6:
		i := rng.IntN(len(g.addr))
		ag, err := tx.LockAddressGroup(f.ctx, g.addr[i])
		if err != nil {
			return err
		}
		switch rng.IntN(4) {
		case 0:
			ag.Addresses = g.addresses()
		case 1:
			ag.Groups = g.addrRefs(tx, g.pick(g.addr, i, rng.IntN(3)))
		case 2:
			ag.Name = fmt.Sprintf("ag%d", f.ticks.Add(1))
		default:
			ag.Description = fmt.Sprintf("d%d", rng.IntN(100))
		}
		ag.ETag, ag.UpdatedAt = f.etag(), at
		return tx.UpdateAddressGroup(f.ctx, &ag)
	case k < 9:
		i := rng.IntN(len(g.svc))
		sg, err := tx.LockServiceGroup(f.ctx, g.svc[i])
		if err != nil {
			return err
		}
		switch rng.IntN(3) {
		case 0:
			sg.Services = g.services()
		case 1:
			sg.Groups = g.svcRefs(tx, g.pick(g.svc, i, rng.IntN(3)))
		default:
			sg.Name = fmt.Sprintf("sg%d", f.ticks.Add(1))
		}
		sg.ETag, sg.UpdatedAt = f.etag(), at
		return tx.UpdateServiceGroup(f.ctx, &sg)
	}
	// Delete a group nothing uses, if there is one.
	kind, list := store.AddressGroupKind, &g.addr
	if rng.IntN(2) == 0 {
		kind, list = store.ServiceGroupKind, &g.svc
	}
	for i, id := range *list {
		u, err := tx.GroupUsage(f.ctx, kind, id)
		if err != nil {
			return err
		}
		if len(u.Rules)+len(u.Groups) > 0 {
			continue
		}
		*list = slices.Delete(*list, i, i+1)
		if kind == store.AddressGroupKind {
			return tx.DeleteAddressGroup(f.ctx, id)
		}
		return tx.DeleteServiceGroup(f.ctx, id)
	}
	return nil
}

// refOp gives a new or existing rule other group references, or none.
func (g *groupRun) refOp(tx store.Tx) error {
	f, rng := g.f, g.rng
	pid := g.policy[rng.IntN(len(g.policy))]
	rules := g.rules(tx, pid)
	create := len(rules) == 0 || rng.IntN(3) == 0
	var r firewall.Rule
	if create {
		r = f.newRule(g.fw.ID, pid, rng.IntN(len(rules)+2), "")
	} else {
		r = rules[rng.IntN(len(rules))]
		r.ETag, r.UpdatedAt = f.etag(), f.now()
	}
	r.SourceGroups = g.addrRefs(tx, g.pick(g.addr, len(g.addr), rng.IntN(3)))
	r.DestinationGroups = g.addrRefs(tx, g.pick(g.addr, len(g.addr), rng.IntN(2)))
	r.ServiceGroups = g.svcRefs(tx, g.pick(g.svc, len(g.svc), rng.IntN(2)))
	for _, refs := range []*[]firewall.GroupRef{&r.SourceGroups, &r.DestinationGroups, &r.ServiceGroups} {
		if len(*refs) == 0 {
			*refs = nil
		}
	}
	if create {
		return tx.CreateRule(f.ctx, &r)
	}
	return tx.UpdateRule(f.ctx, &r)
}

func historyGroupsRandom(t *testing.T, f *fixture) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newGroupRun(f.with(t), 100+seed)
			for range 80 {
				g.step()
			}
			g.check(t)
			if len(g.addr)+len(g.svc) == 0 {
				t.Fatal("the run made no group")
			}
		})
	}
}

// historyGroupEdit edits a group a rule uses: the revision before shows
// its old members, the one after the new, each with the rule's reference.
func historyGroupEdit(t *testing.T, f *fixture) {
	fw, p, rules := f.tree("group-edit", 1)
	web := f.newAddressGroup("web")
	r := rules[0]
	r.SourceGroups, r.ETag, r.UpdatedAt = []firewall.GroupRef{refTo(web.ID, "web")}, f.etag(), f.now()
	bump := func(tx store.Tx) error {
		_, err := tx.BumpRevision(f.ctx, fw.ID, f.etag(), f.now())
		return err
	}
	f.update(func(tx store.Tx) error {
		if err := tx.UpdateRule(f.ctx, &r); err != nil {
			return err
		}
		return bump(tx)
	})
	before, err := f.s.LoadTree(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	edited := web
	edited.Name, edited.Addresses = "web2", prefixes(t, "198.51.100.0/24")
	edited.ETag, edited.UpdatedAt = f.etag(), f.now()
	f.update(func(tx store.Tx) error {
		if err := tx.UpdateAddressGroup(f.ctx, &edited); err != nil {
			return err
		}
		return bump(tx)
	})
	after, err := f.s.LoadTree(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	rev := before.Firewall.Revision
	old := mustTreeAt(t, f, fw.ID, rev)
	wantEqual(t, "tree before the edit", sortTree(old), sortTree(before))
	wantEqual(t, "tree after the edit", sortTree(mustTreeAt(t, f, fw.ID, rev+1)), sortTree(after))
	if got := old.Groups.Address[web.ID]; got.Name != "web" || len(got.Addresses) != 2 {
		t.Fatalf("group at revision %d = %+v, want web with its first two addresses", rev, got)
	}
	if got := old.Rules[0].SourceGroups; len(got) != 1 || got[0] != refTo(web.ID, "web") {
		t.Fatalf("rule's source groups at revision %d = %v, want web by its old name", rev, got)
	}
	_ = p
}

// historyGroupsPrune prunes revisions that used groups: the kept ones
// still read back exactly.
func historyGroupsPrune(t *testing.T, f *fixture) {
	r, ok := f.s.(retainer)
	if !ok {
		t.Skip("the store has no SetRetention")
	}
	r.SetRetention(firewall.Retention{Keep: 4})
	g := newGroupRun(f, 211)
	for range 40 {
		g.step()
	}
	cur := g.fw.Revision + 40
	for rev := cur - 3; rev <= cur; rev++ {
		wantEqual(t, fmt.Sprintf("tree at kept revision %d", rev), sortTree(mustTreeAt(t, f, g.fw.ID, rev)), sortTree(g.trees[rev]))
	}
	if _, err := f.s.TreeAt(f.ctx, g.fw.ID, cur-4); firewall.CodeOf(err) != firewall.CodeGone {
		t.Fatalf("TreeAt(%d) with 4 kept: %v, want gone", cur-4, err)
	}
}

// historyGroupDeleted deletes a group once no rule uses it: the revision
// that used it still reads it back.
func historyGroupDeleted(t *testing.T, f *fixture) {
	fw, _, rules := f.tree("group-deleted", 1)
	svc := f.newServiceGroup("https")
	r := rules[0]
	r.ServiceGroups, r.ETag, r.UpdatedAt = []firewall.GroupRef{refTo(svc.ID, "https")}, f.etag(), f.now()
	change := func(fn func(tx store.Tx) error) store.Tree {
		f.update(func(tx store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			_, err := tx.BumpRevision(f.ctx, fw.ID, f.etag(), f.now())
			return err
		})
		tree, err := f.s.LoadTree(f.ctx, fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		return tree
	}
	using := change(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &r) })
	r.ServiceGroups, r.ETag, r.UpdatedAt = nil, f.etag(), f.now()
	change(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &r) })
	f.update(func(tx store.Tx) error { return tx.DeleteServiceGroup(f.ctx, svc.ID) })
	got := mustTreeAt(t, f, fw.ID, using.Firewall.Revision)
	wantEqual(t, "tree that used the deleted group", sortTree(got), sortTree(using))
	if _, ok := got.Groups.Service[svc.ID]; !ok {
		t.Fatalf("revision %d lost the deleted group", using.Firewall.Revision)
	}
}
