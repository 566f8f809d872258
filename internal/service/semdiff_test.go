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
)

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

// Every flow whose decision differs between the current tree and a
// candidate falls in a region the dry run reports: the pair of deciders that
// region names.
func TestSemanticDiffCoversChangedFlows(t *testing.T) {
	for seed := range uint64(6) {
		t.Run("", func(t *testing.T) {
			f := newFixture(t)
			r := rand.New(rand.NewPCG(seed, 7))
			a, b := randomTree(r), randomTree(r)
			if _, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, a, false); err != nil {
				t.Fatal(err)
			}
			older, err := f.svc.GetTree(f.ctx, f.fw.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, cand := range []firewall.Tree{mutate(r, a, b), b} {
				res, err := f.svc.ReplaceTree(f.ctx, f.fw.ID, nil, cand, true)
				if err != nil {
					t.Fatal(err)
				}
				sem := res.Semantic
				if sem.Total != len(sem.Regions) {
					t.Fatalf("%d regions listed of %d", len(sem.Regions), sem.Total)
				}
				type pair struct{ o, n verdict }
				regions := map[pair]bool{}
				for _, rg := range sem.Regions {
					regions[pair{verdictOf(rg.Old), verdictOf(rg.New)}] = true
				}
				newer := res.Tree
				fg := fwgen.NewFlows(r, &newer, false)
				fo := fwgen.NewFlows(r, &older, false)
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
				od, nd := decisions(t, older, flows, now), decisions(t, newer, flows, now)
				changed := 0
				for i := range flows {
					if od[i].Action == nd[i].Action {
						continue
					}
					changed++
					p := pair{verdictOf(od[i]), verdictOf(nd[i])}
					if !regions[p] {
						t.Fatalf("flow %+v changes %+v -> %+v outside every reported region", flows[i], od[i], nd[i])
					}
				}
				if changed > 0 && sem.NoOp {
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

// verdict is a decision without its explain path, so that it can key a map.
type verdict struct {
	action    firewall.Action
	decidedBy firewall.DecidedBy
	policyID  string
	ruleID    string
}

func verdictOf(d firewall.Decision) verdict {
	return verdict{d.Action, d.DecidedBy, d.PolicyID, d.RuleID}
}
