package service_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/service"
)

// groupWorld is a fixture's groups: four address groups and three service
// groups, each nesting only older ones, edited at random by the history.
type groupWorld struct {
	addr, svc []string // ids, oldest first
}

func newGroupWorld(t *testing.T, f *fixture, r *rand.Rand) *groupWorld {
	t.Helper()
	w := &groupWorld{}
	for i := range 4 {
		g := firewall.AddressGroup{Name: fmt.Sprintf("ag%d", i), Addresses: randomAddresses(r)}
		if i >= 2 {
			g.Groups = []firewall.GroupRef{{ID: w.addr[r.IntN(i)]}}
		}
		out, _, err := f.svc.CreateAddressGroup(f.ctx, g, service.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		w.addr = append(w.addr, out.ID)
	}
	for i := range 3 {
		g := firewall.ServiceGroup{Name: fmt.Sprintf("sg%d", i), Services: randomServices(r)}
		if i == 2 {
			g.Groups = []firewall.GroupRef{{ID: w.svc[0]}}
		}
		out, _, err := f.svc.CreateServiceGroup(f.ctx, g, service.Idempotency{})
		if err != nil {
			t.Fatal(err)
		}
		w.svc = append(w.svc, out.ID)
	}
	return w
}

// randomAddresses draws members from a small pool, so that groups overlap
// each other and the rules fwgen draws (10/8 and 2001:db8::/32 among them).
func randomAddresses(r *rand.Rand) []netip.Prefix {
	out := []netip.Prefix{}
	for range 1 + r.IntN(3) {
		p := netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", r.IntN(8)))
		if r.IntN(4) == 0 {
			p = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", r.IntN(16)))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func randomServices(r *rand.Rand) []firewall.Service {
	out := []firewall.Service{}
	for range 1 + r.IntN(2) {
		lo := uint16(1 + r.IntN(2000))
		p := firewall.TCP
		if r.IntN(3) == 0 {
			p = firewall.UDP
		}
		out = append(out, firewall.Service{Protocol: p, Ports: []firewall.PortRange{{Low: lo, High: lo + uint16(r.IntN(100))}}})
	}
	return out
}

func prefixTexts(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// pickIDs returns up to n distinct ids of list, in random order.
func pickIDs(r *rand.Rand, list []string, n int) []string {
	c := slices.Clone(list)
	r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	return c[:min(n, len(c))]
}

// groupStep makes one change that involves groups: an edit of a group's
// members, nesting or name (which raises the revision of the firewall if
// it uses the group), or a rule gaining or losing group references.
func (w *groupWorld) step(t *testing.T, f *fixture, r *rand.Rand) {
	t.Helper()
	var err error
	switch k := r.IntN(6); k {
	case 0, 1:
		i := r.IntN(len(w.addr))
		var p firewall.AddressGroupPatch
		switch r.IntN(3) {
		case 0:
			p.Addresses = firewall.Some(prefixTexts(randomAddresses(r)))
		case 1:
			p.Groups = firewall.Some(pickIDs(r, w.addr[:i], r.IntN(3)))
		default:
			p.Name = firewall.Some(fmt.Sprintf("ag%d-%d", i, r.IntN(1000)))
		}
		_, err = f.svc.UpdateAddressGroup(f.ctx, w.addr[i], nil, p)
	case 2:
		i := r.IntN(len(w.svc))
		var p firewall.ServiceGroupPatch
		if r.IntN(2) == 0 {
			var specs []firewall.ServiceSpec
			for _, sv := range randomServices(r) {
				spec := firewall.ServiceSpec{Protocol: string(sv.Protocol)}
				for _, pr := range sv.Ports {
					spec.Ports = append(spec.Ports, pr.String())
				}
				specs = append(specs, spec)
			}
			p.Services = firewall.Some(specs)
		} else {
			p.Name = firewall.Some(fmt.Sprintf("sg%d-%d", i, r.IntN(1000)))
		}
		_, err = f.svc.UpdateServiceGroup(f.ctx, w.svc[i], nil, p)
	default:
		cur, gerr := f.svc.GetTree(f.ctx, f.fw.ID)
		if gerr != nil {
			t.Fatal(gerr)
		}
		var rules []firewall.Rule
		for _, p := range cur.Policies {
			rules = append(rules, p.Rules...)
		}
		if len(rules) == 0 {
			return
		}
		rule := rules[r.IntN(len(rules))]
		p := firewall.RulePatch{SourceGroups: firewall.Some(pickIDs(r, w.addr, r.IntN(3)))}
		if r.IntN(2) == 0 {
			p.DestinationGroups = firewall.Some(pickIDs(r, w.addr, r.IntN(2)))
		}
		if rule.Protocol == firewall.AnyProtocol && len(rule.DestinationPorts)+len(rule.SourcePorts) == 0 && r.IntN(2) == 0 {
			p.ServiceGroups = firewall.Some(pickIDs(r, w.svc, r.IntN(2)))
		}
		_, err = f.svc.UpdateRule(f.ctx, f.fw.ID, rule.PolicyID, rule.ID, nil, p)
		if firewall.CodeOf(err) == firewall.CodeInvalid {
			err = nil // a combination validation refuses: no change
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// groupHistoryOf interleaves historyOf's tree changes with group changes,
// and returns each revision with its tree and groups read live right after
// it was made.
func groupHistoryOf(t *testing.T, f *fixture, r *rand.Rand, steps int) (*groupWorld, map[int64]firewall.Tree) {
	t.Helper()
	w := newGroupWorld(t, f, r)
	trees := historyOf(t, f, r, 1)
	for range steps {
		if r.IntN(3) == 0 {
			maps.Copy(trees, historyOf(t, f, r, 1))
			continue
		}
		w.step(t, f, r)
		cur, err := f.svc.GetTree(f.ctx, f.fw.ID)
		if err != nil {
			t.Fatal(err)
		}
		trees[cur.Firewall.Revision] = cur
	}
	used := 0
	for _, tr := range trees {
		used += len(tr.Groups.Address) + len(tr.Groups.Service)
	}
	if used == 0 {
		t.Fatal("no revision used a group")
	}
	return w, trees
}

var prefixCmp = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

// Every revision reads back with the rules' group references and the
// groups' contents recorded live when it was current.
func TestTreeAtEveryRevisionWithGroups(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			f := newFixture(t)
			_, trees := groupHistoryOf(t, f, rand.New(rand.NewPCG(seed, 41)), 40)
			for rev, want := range trees {
				got, err := f.svc.TreeAt(f.ctx, f.fw.ID, rev)
				if err != nil {
					t.Fatalf("TreeAt(%d): %v", rev, err)
				}
				if d := service.DiffTrees(want, got); !d.Empty() {
					t.Fatalf("revision %d differs from the tree recorded then: %+v", rev, d)
				}
				if d := cmp.Diff(want.Groups, got.Groups, prefixCmp, cmpopts.EquateEmpty()); d != "" {
					t.Fatalf("groups of revision %d (-recorded +read):\n%s", rev, d)
				}
			}
		})
	}
}

// groupFlows draws flows aimed at the rules of both trees with their
// groups expanded, so that group members are hit at their edges.
func groupFlows(r *rand.Rand, a, b firewall.Tree, n int) []firewall.Flow {
	ea, eb := fwgen.Expand(a), fwgen.Expand(b)
	return sampleFlows(r, &ea, &eb, n)
}

// changedSince lists, by a plain comparison, the groups of then whose
// name, members or nesting differ in the live store.
func changedSince(t *testing.T, f *fixture, then firewall.Groups) []string {
	t.Helper()
	var out []string
	ids := func(refs []firewall.GroupRef) []string {
		out := []string{}
		for _, r := range refs {
			out = append(out, r.ID)
		}
		return out
	}
	for id, a := range then.Address {
		b, err := f.svc.GetAddressGroup(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != b.Name || !cmp.Equal(a.Addresses, b.Addresses, prefixCmp, cmpopts.EquateEmpty()) || !slices.Equal(ids(a.Groups), ids(b.Groups)) {
			out = append(out, id)
		}
	}
	for id, a := range then.Service {
		b, err := f.svc.GetServiceGroup(f.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != b.Name || !cmp.Equal(a.Services, b.Services, cmpopts.EquateEmpty()) || !slices.Equal(ids(a.Groups), ids(b.Groups)) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Rolling back to revision n restores the rules' group references. When
// the groups n used are unchanged since, the result decides sampled flows
// as n did; when some changed, the answer lists exactly those, and the
// result decides as n's rules with today's groups.
func TestRollbackWithGroups(t *testing.T) {
	unchanged, changed := 0, 0
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			f := newFixture(t)
			r := rand.New(rand.NewPCG(seed, 43))
			w, trees := groupHistoryOf(t, f, r, 30)
			for range 6 {
				revs := slices.Sorted(maps.Keys(trees))
				n := revs[r.IntN(len(revs))]
				want := trees[n]
				wantChanged := changedSince(t, f, want.Groups)
				res, err := f.svc.Rollback(f.ctx, f.fw.ID, nil, n)
				if err != nil {
					t.Fatalf("Rollback(%d): %v", n, err)
				}
				var gotChanged []string
				for _, c := range res.ChangedGroups {
					gotChanged = append(gotChanged, c.ID)
				}
				slices.Sort(gotChanged)
				if !slices.Equal(gotChanged, wantChanged) {
					t.Fatalf("Rollback(%d) listed changed groups %v, want %v", n, gotChanged, wantChanged)
				}
				after, err := f.svc.GetTree(f.ctx, f.fw.ID)
				if err != nil {
					t.Fatal(err)
				}
				if d := service.DiffTrees(want, after); !d.Empty() {
					t.Fatalf("after rolling back to %d the tree differs from it: %+v", n, d)
				}
				judge := want
				if len(wantChanged) > 0 {
					changed++
					judge.Groups = after.Groups // n's rules, today's groups
				} else {
					unchanged++
				}
				flows := groupFlows(r, want, after, 400)
				now := f.clock.Now()
				wd, ad := decisions(t, judge, flows, now), decisions(t, after, flows, now)
				for i := range flows {
					if wd[i].Action != ad[i].Action || wd[i].RuleID != ad[i].RuleID || wd[i].PolicyID != ad[i].PolicyID {
						t.Fatalf("flow %+v: revision %d decided %+v, the rollback %+v", flows[i], n, wd[i], ad[i])
					}
				}
				trees[after.Firewall.Revision] = after
				w.step(t, f, r)
				cur, err := f.svc.GetTree(f.ctx, f.fw.ID)
				if err != nil {
					t.Fatal(err)
				}
				trees[cur.Firewall.Revision] = cur
			}
		})
	}
	if unchanged == 0 || changed == 0 {
		t.Fatalf("rollbacks with unchanged groups: %d, with changed ones: %d; want both", unchanged, changed)
	}
}

// A revision whose rules used a group deleted since cannot be restored:
// the rollback answers a conflict naming the group, and changes nothing.
func TestRollbackToDeletedGroup(t *testing.T) {
	f := newFixture(t)
	g, _, err := f.svc.CreateAddressGroup(f.ctx, firewall.AddressGroup{Name: "retired", Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	rule := f.createRule("r1", 0)
	if _, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, rule.ID, nil, firewall.RulePatch{SourceGroups: firewall.Some([]string{"retired"})}); err != nil {
		t.Fatal(err)
	}
	using := f.revision()
	if _, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, rule.ID, nil, firewall.RulePatch{SourceGroups: firewall.Some([]string{})}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteAddressGroup(f.ctx, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	before := f.revision()
	_, err = f.svc.Rollback(f.ctx, f.fw.ID, nil, using)
	var fe *firewall.Error
	if firewall.CodeOf(err) != firewall.CodeConflict || !errors.As(err, &fe) || len(fe.Problems) != 1 ||
		!strings.Contains(fe.Problems[0].Message, `"retired"`) || !strings.Contains(fe.Problems[0].Message, g.ID) {
		t.Fatalf("Rollback to a revision using a deleted group: %v, want a conflict naming it", err)
	}
	if f.revision() != before {
		t.Fatal("the refused rollback made a revision")
	}
	// The revision still reads back with the group as it was.
	tree, err := f.svc.TreeAt(f.ctx, f.fw.ID, using)
	if err != nil {
		t.Fatal(err)
	}
	if got := tree.Groups.Address[g.ID]; got.Name != "retired" || len(got.Addresses) != 1 {
		t.Fatalf("revision %d's groups = %+v, want retired with its address", using, tree.Groups)
	}
}

// A group edit makes a revision of the firewall using it whose diff
// against the one before is semantic only: no policy or rule changed, the
// flows of the edited members change decision, and the group is listed.
func TestRevisionDiffAcrossGroupEdit(t *testing.T) {
	f := newFixture(t)
	g, _, err := f.svc.CreateAddressGroup(f.ctx, firewall.AddressGroup{Name: "web", Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, service.Idempotency{})
	if err != nil {
		t.Fatal(err)
	}
	rule := f.createRule("r1", 0)
	if _, err := f.svc.UpdateRule(f.ctx, f.fw.ID, f.pol.ID, rule.ID, nil, firewall.RulePatch{
		SourceGroups: firewall.Some([]string{"web"}), Action: firewall.Some(firewall.Allow)}); err != nil {
		t.Fatal(err)
	}
	before := f.revision()
	if _, err := f.svc.UpdateAddressGroup(f.ctx, g.ID, nil, firewall.AddressGroupPatch{Addresses: firewall.Some([]string{"198.51.100.0/24"})}); err != nil {
		t.Fatal(err)
	}
	after := f.revision()
	if after != before+1 {
		t.Fatalf("the group edit moved the revision from %d to %d, want one step", before, after)
	}
	d, err := f.svc.DiffRevisions(f.ctx, f.fw.ID, after, before, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Structural.Empty() {
		t.Fatalf("structural diff across a group edit: %+v, want empty", d.Structural)
	}
	if d.Semantic.NoOp || d.Semantic.Total == 0 {
		t.Fatalf("semantic diff across a group edit: %+v, want the edited members", d.Semantic)
	}
	want := []service.GroupChange{{Kind: firewall.KindAddressGroup, ID: g.ID, Name: "web", Changed: []string{"addresses"}}}
	if diff := cmp.Diff(want, d.ChangedGroups); diff != "" {
		t.Fatalf("changed groups (-want +got):\n%s", diff)
	}
	old, err := f.svc.TreeAt(f.ctx, f.fw.ID, before)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := f.svc.TreeAt(f.ctx, f.fw.ID, after)
	if err != nil {
		t.Fatal(err)
	}
	flows := []firewall.Flow{
		{Protocol: firewall.TCP, Source: netip.MustParseAddr("192.0.2.7"), Destination: netip.MustParseAddr("203.0.113.1"), SourcePort: 1000, DestinationPort: 443},
		{Protocol: firewall.TCP, Source: netip.MustParseAddr("198.51.100.7"), Destination: netip.MustParseAddr("203.0.113.1"), SourcePort: 1000, DestinationPort: 443},
	}
	now := f.clock.Now()
	od, nd := decisions(t, old, flows, now), decisions(t, newer, flows, now)
	if od[0].RuleID != rule.ID || nd[0].RuleID == rule.ID || od[1].RuleID == rule.ID || nd[1].RuleID != rule.ID {
		t.Fatalf("decisions before %+v and after %+v the edit, want the rule to match the old member, then the new", od, nd)
	}
}

// Random group histories: every sampled flow whose decision differs
// between two revisions lies in a region their diff reports, each side
// judged with its own groups.
func TestRevisionDiffWithGroupsCoversChangedFlows(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(7, 47))
	_, trees := groupHistoryOf(t, f, r, 30)
	revs := slices.Sorted(maps.Keys(trees))
	for range 8 {
		n, m := revs[r.IntN(len(revs))], revs[r.IntN(len(revs))]
		d, err := f.svc.DiffRevisions(f.ctx, f.fw.ID, n, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		type pair struct{ o, n verdict }
		regions := map[pair]bool{}
		for _, rg := range d.Semantic.Regions {
			regions[pair{verdictOf(rg.Old), verdictOf(rg.New)}] = true
		}
		older, newer := trees[m], trees[n]
		flows := groupFlows(r, older, newer, 800)
		now := f.clock.Now()
		od, nd := decisions(t, older, flows, now), decisions(t, newer, flows, now)
		for i := range flows {
			if od[i].Action != nd[i].Action && !regions[pair{verdictOf(od[i]), verdictOf(nd[i])}] {
				t.Fatalf("%d against %d: flow %+v changes %+v -> %+v outside every reported region", n, m, flows[i], od[i], nd[i])
			}
		}
	}
}

// A change request written against an earlier revision whose rules used
// groups takes that revision's tree and groups as its base.
func TestChangeRequestOnOlderBaseWithGroups(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(7, 47))
	_, trees := groupHistoryOf(t, f, r, 30)
	var base int64
	for _, rev := range slices.Sorted(maps.Keys(trees)) {
		if rev < f.revision() && len(trees[rev].Groups.Address) > 0 && len(trees[rev].Policies) > 0 {
			base = rev
		}
	}
	if base == 0 {
		t.Fatal("no earlier revision used a group")
	}
	want := trees[base]
	p := want.Policies[0]
	rule := firewall.NewRule()
	rule.Action = firewall.Deny
	rule.SourceGroups = []firewall.GroupRef{{ID: slices.Collect(maps.Keys(want.Groups.Address))[0]}}
	in := firewall.ChangeRequest{Title: "deny a group", BaseRevision: base,
		Operations: []firewall.Operation{{Op: firewall.OpCreateRule, PolicyID: p.Policy.ID, Rule: &rule}}}
	cr, _, err := f.svc.CreateChangeRequest(f.ctx, f.fw.ID, in, service.Idempotency{})
	if err != nil {
		t.Fatalf("change request on revision %d with groups: %v", base, err)
	}
	if d := cmp.Diff(want.Groups, cr.Base.Groups, prefixCmp, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("base groups (-revision +request):\n%s", d)
	}
	if d := service.DiffTrees(want, *cr.Base); !d.Empty() {
		t.Fatalf("base tree differs from revision %d: %+v", base, d)
	}
}
