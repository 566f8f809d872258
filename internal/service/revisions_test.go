package service_test

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
	"github.com/fireflow/fireflow/internal/service"
)

func TestRevisionsRecordEveryChange(t *testing.T) {
	f := newFixture(t)
	r := f.createRule("web", 0)
	if err := f.svc.DeleteRule(f.ctx, f.fw.ID, f.pol.ID, r.ID, nil); err != nil {
		t.Fatal(err)
	}
	page, err := f.svc.ListRevisions(f.ctx, f.fw.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, v := range page.Items {
		got = append(got, v.Revision)
		if v.Actor != "alice" || v.RequestID != "req-1" || v.Summary == "" {
			t.Errorf("revision %d = %+v, want actor alice, request req-1 and a summary", v.Revision, v)
		}
	}
	if !slices.Equal(got, []int64{4, 3, 2, 1}) {
		t.Fatalf("revisions %v, want 4 3 2 1", got)
	}
	rev3, err := f.svc.GetRevision(f.ctx, f.fw.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(rev3.Tree.Policies) != 1 || len(rev3.Tree.Policies[0].Rules) != 1 || rev3.Tree.Policies[0].Rules[0].ID != r.ID {
		t.Fatalf("revision 3 tree = %+v, want the one rule %s", rev3.Tree, r.ID)
	}
	if rev3.Tree.Firewall.Revision != 3 {
		t.Fatalf("revision 3's firewall says revision %d", rev3.Tree.Firewall.Revision)
	}
}

// randomTree is a valid tree of a few policies and rules, positions 1..n.
func randomTree(r *rand.Rand) firewall.Tree {
	t := fwgen.NewAdversarial(r, false).Tree(3, 4+r.IntN(10))
	t.Firewall.Name = "edge"
	for i := range t.Policies {
		for j := range t.Policies[i].Rules {
			clean(&t.Policies[i].Rules[j])
		}
	}
	for i := range t.Policies {
		rules := t.Policies[i].Rules
		slices.SortStableFunc(rules, func(a, b firewall.Rule) int { return a.Position - b.Position })
		for j := range rules {
			rules[j].Position = j + 1
			rules[j].Name = ""
		}
	}
	return t
}

// clean drops what the stores refuse and the generator may draw: repeated
// entries and IPv4-mapped IPv6 prefixes.
func clean(r *firewall.Rule) {
	prefixes := func(ps []netip.Prefix) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range ps {
			if !p.Addr().Is4In6() && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out
	}
	ports := func(ps []firewall.PortRange) []firewall.PortRange {
		var out []firewall.PortRange
		for _, p := range ps {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
		return out
	}
	r.Sources, r.Destinations = prefixes(r.Sources), prefixes(r.Destinations)
	r.SourcePorts, r.DestinationPorts = ports(r.SourcePorts), ports(r.DestinationPorts)
}

// mutate changes tree a little: a rule dropped, two swapped, an action
// flipped, a rule copied in from other.
func mutate(r *rand.Rand, tree firewall.Tree, other firewall.Tree) firewall.Tree {
	out := tree
	out.Policies = slices.Clone(tree.Policies)
	i := r.IntN(len(out.Policies))
	rules := slices.Clone(out.Policies[i].Rules)
	switch r.IntN(4) {
	case 0:
		if len(rules) > 0 {
			k := r.IntN(len(rules))
			rules = slices.Delete(rules, k, k+1)
		}
	case 1:
		if len(rules) > 1 {
			a, b := r.IntN(len(rules)), r.IntN(len(rules))
			rules[a], rules[b] = rules[b], rules[a]
		}
	case 2:
		if len(rules) > 0 {
			k := r.IntN(len(rules))
			rules[k].Action = map[firewall.Action]firewall.Action{firewall.Allow: firewall.Deny}[rules[k].Action]
			if rules[k].Action == "" {
				rules[k].Action = firewall.Allow
			}
		}
	default:
		op := other.Policies[0]
		if len(op.Rules) > 0 {
			nr := op.Rules[r.IntN(len(op.Rules))]
			nr.ID = ""
			rules = slices.Insert(rules, r.IntN(len(rules)+1), nr)
		}
	}
	for j := range rules {
		rules[j].Position = j + 1
	}
	out.Policies[i].Rules = rules
	return out
}

func decisions(t *testing.T, tree firewall.Tree, flows []firewall.Flow, now time.Time) []firewall.Decision {
	t.Helper()
	m, err := engine.Compile(tree)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]firewall.Decision, len(flows))
	for i, fl := range flows {
		d := m.Evaluate(fl, now, false)
		d.Revision = 0
		out[i] = d
	}
	return out
}

// Rolling back to revision n after random changes gives a tree that decides
// sampled flows as n did and has no structural difference from n.
func TestRollbackRandomSequences(t *testing.T) {
	for seed := range uint64(6) {
		t.Run("", func(t *testing.T) {
			f := newFixture(t)
			r := rand.New(rand.NewPCG(seed, 19))
			first := randomTree(r)
			if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, first, false); err != nil {
				t.Fatal(err)
			}
			for range 8 {
				cur, err := f.svc.GetTree(f.ctx, f.fw.ID)
				if err != nil {
					t.Fatal(err)
				}
				next := mutate(r, cur, randomTree(r))
				if r.IntN(4) == 0 {
					next = randomTree(r)
				}
				if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, next, false); err != nil {
					t.Fatalf("replace: %v", err)
				}
			}
			cur, _ := f.svc.GetTree(f.ctx, f.fw.ID)
			n := 2 + r.Int64N(cur.Firewall.Revision-2)
			want, err := f.svc.GetRevision(f.ctx, f.fw.ID, n)
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.svc.Rollback(f.ctx, f.fw.ID, nil, n)
			if err != nil {
				t.Fatalf("rollback to %d: %v", n, err)
			}
			got, _ := f.svc.GetTree(f.ctx, f.fw.ID)
			if d := service.DiffTrees(want.Tree, got); !d.Empty() {
				t.Fatalf("rollback to %d leaves a structural diff: %+v", n, d)
			}
			if res.Changed && got.Firewall.Revision != cur.Firewall.Revision+1 {
				t.Fatalf("rollback made revision %d, want %d", got.Firewall.Revision, cur.Firewall.Revision+1)
			}
			fg := fwgen.NewFlows(r, &want.Tree, true)
			flows := make([]firewall.Flow, 300)
			for i := range flows {
				flows[i] = fg.Flow()
			}
			now := f.clock.Now()
			wd, gd := decisions(t, want.Tree, flows, now), decisions(t, got, flows, now)
			for i := range flows {
				if verdict(wd[i]) != verdict(gd[i]) {
					t.Fatalf("flow %+v: revision %d decides %+v, the rollback %+v", flows[i], n, wd[i], gd[i])
				}
			}
			diff, err := f.svc.DiffRevisions(f.ctx, f.fw.ID, got.Firewall.Revision, n, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !diff.Structural.Empty() || !diff.Semantic.NoOp {
				t.Fatalf("diff of the rollback against %d = %+v", n, diff)
			}
		})
	}
}

// Every flow whose decision differs between two revisions falls in a
// reported region: the pair of deciders that region names.
func TestSemanticDiffCoversChangedFlows(t *testing.T) {
	for seed := range uint64(6) {
		t.Run("", func(t *testing.T) {
			f := newFixture(t)
			r := rand.New(rand.NewPCG(seed, 7))
			a, b := randomTree(r), randomTree(r)
			for _, tr := range []firewall.Tree{a, mutate(r, a, b), b} {
				if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, tr, false); err != nil {
					t.Fatal(err)
				}
			}
			cur, _ := f.svc.GetTree(f.ctx, f.fw.ID)
			for m := int64(3); m < cur.Firewall.Revision; m++ {
				n := cur.Firewall.Revision
				diff, err := f.svc.DiffRevisions(f.ctx, f.fw.ID, n, m, 100000)
				if err != nil {
					t.Fatal(err)
				}
				if diff.Semantic.Total != len(diff.Semantic.Regions) {
					t.Fatalf("%d regions listed of %d", len(diff.Semantic.Regions), diff.Semantic.Total)
				}
				type pair struct{ o, n service.Verdict }
				regions := map[pair]bool{}
				for _, rg := range diff.Semantic.Regions {
					regions[pair{rg.Old, rg.New}] = true
				}
				older, _ := f.svc.GetRevision(f.ctx, f.fw.ID, m)
				newer, _ := f.svc.GetRevision(f.ctx, f.fw.ID, n)
				fg := fwgen.NewFlows(r, &newer.Tree, false)
				fo := fwgen.NewFlows(r, &older.Tree, false)
				flows := make([]firewall.Flow, 2000)
				for i := 0; i < len(flows); {
					fl := fo.Flow()
					if i%2 == 0 {
						fl = fg.Flow()
					}
					if consistent(fl) {
						flows[i] = fl
						i++
					}
				}
				now := f.clock.Now()
				od, nd := decisions(t, older.Tree, flows, now), decisions(t, newer.Tree, flows, now)
				changed := 0
				for i := range flows {
					if od[i].Action == nd[i].Action {
						continue
					}
					changed++
					p := pair{verdict(od[i]), verdict(nd[i])}
					if !regions[p] {
						t.Fatalf("flow %+v changes %+v -> %+v outside every reported region", flows[i], od[i], nd[i])
					}
				}
				if changed > 0 && diff.Semantic.NoOp {
					t.Fatalf("%d sampled flows change but the diff says no_op", changed)
				}
			}
		})
	}
}

// consistent reports whether the flow is one a network carries: both
// addresses of one family, and icmp with IPv4, icmpv6 with IPv6.
func consistent(f firewall.Flow) bool {
	v4 := f.Source.Is4()
	if f.Destination.Is4() != v4 {
		return false
	}
	switch f.Protocol {
	case firewall.ICMP:
		return v4
	case firewall.ICMPv6:
		return !v4
	}
	return true
}

func verdict(d firewall.Decision) service.Verdict {
	return service.Verdict{Action: string(d.Action), DecidedBy: string(d.DecidedBy), PolicyID: d.PolicyID, RuleID: d.RuleID}
}

func TestRevisionRetention(t *testing.T) {
	f := newFixture(t)
	svc := service.New(f.store, service.WithClock(f.clock.Now), service.WithRetention(service.Retention{Keep: 2, MaxAge: time.Hour}))
	for i := range 3 {
		r := firewall.NewRule()
		r.Action = firewall.Allow
		if _, _, err := svc.CreateRule(f.ctx, f.fw.ID, f.pol.ID, r, service.Idempotency{}); err != nil {
			t.Fatal(i, err)
		}
	}
	page, err := svc.ListRevisions(f.ctx, f.fw.ID, firewall.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].Revision != 5 {
		t.Fatalf("kept %+v, want revisions 5 and 4", page.Items)
	}
	// Two hours on, one more change: only it is young enough, and the
	// current revision is kept whatever its age.
	f.clock.Advance(2 * time.Hour)
	tr, _ := svc.GetTree(f.ctx, f.fw.ID)
	if err := svc.DeleteRule(f.ctx, f.fw.ID, f.pol.ID, tr.Policies[0].Rules[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	page, _ = svc.ListRevisions(f.ctx, f.fw.ID, firewall.Query{})
	if len(page.Items) != 1 || page.Items[0].Revision != 6 {
		t.Fatalf("kept %+v, want revision 6 alone", page.Items)
	}
}
