package engine

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// refGroups is the reference's own expansion of groups: a plain recursive
// walk, written apart from firewall.Groups so that the differential test
// does not check the engine's expansion against itself.
type refGroups struct{ g *firewall.Groups }

// addrs returns every prefix of address group id and of the groups it
// nests, duplicates included.
func (rg refGroups) addrs(id string, depth int) []netip.Prefix {
	if depth > 64 { // the generator makes no cycles; this only bounds a bug
		return nil
	}
	ag := rg.g.Address[id]
	out := slices.Clone(ag.Addresses)
	for _, n := range ag.Groups {
		out = append(out, rg.addrs(n.ID, depth+1)...)
	}
	return out
}

func (rg refGroups) services(id string, depth int) []firewall.Service {
	if depth > 64 {
		return nil
	}
	sg := rg.g.Service[id]
	out := slices.Clone(sg.Services)
	for _, n := range sg.Groups {
		out = append(out, rg.services(n.ID, depth+1)...)
	}
	return out
}

// expand returns r as a plain rule: groups turned into literal lists, and
// its services, or nil when the rule's own protocol and ports decide.
func (rg refGroups) expand(r *firewall.Rule) (firewall.Rule, []firewall.Service) {
	x := *r
	x.Sources = slices.Clone(r.Sources)
	for _, ref := range r.SourceGroups {
		x.Sources = append(x.Sources, rg.addrs(ref.ID, 0)...)
	}
	x.Destinations = slices.Clone(r.Destinations)
	for _, ref := range r.DestinationGroups {
		x.Destinations = append(x.Destinations, rg.addrs(ref.ID, 0)...)
	}
	var svcs []firewall.Service
	for _, ref := range r.ServiceGroups {
		svcs = append(svcs, rg.services(ref.ID, 0)...)
	}
	return x, svcs
}

// refServiceMatches: the service's protocol, and its ports for a flow
// that has ports; ports never match a flow without them.
func refServiceMatches(s firewall.Service, src []firewall.PortRange, f *firewall.Flow) bool {
	x := firewall.Rule{Protocol: s.Protocol, SourcePorts: src, DestinationPorts: s.Ports}
	return refMatchesService(&x, f)
}

// refMatchesService is refMatches on protocol and ports only.
func refMatchesService(r *firewall.Rule, f *firewall.Flow) bool {
	x := *r
	x.Sources, x.Destinations = nil, nil
	return refMatches(&x, f)
}

// refGroupMatches reports whether r, with its groups expanded, matches f.
func (rg refGroups) matches(r *firewall.Rule, f *firewall.Flow) bool {
	x, svcs := rg.expand(r)
	if len(svcs) == 0 {
		return refMatches(&x, f)
	}
	addrOnly := x
	addrOnly.Protocol, addrOnly.SourcePorts, addrOnly.DestinationPorts = firewall.AnyProtocol, nil, nil
	if !refMatches(&addrOnly, f) {
		return false
	}
	for _, s := range svcs {
		if refServiceMatches(s, r.SourcePorts, f) {
			return true
		}
	}
	return false
}

// names returns the groups the step of the deciding rule names.
func (rg refGroups) names(r *firewall.Rule, f *firewall.Flow) (src, dst, svc string) {
	first := func(refs []firewall.GroupRef, a netip.Addr) string {
		for _, ref := range refs {
			for _, p := range rg.addrs(ref.ID, 0) {
				if p.Contains(a) {
					return rg.g.Address[ref.ID].Name
				}
			}
		}
		return ""
	}
	src, dst = first(r.SourceGroups, f.Source), first(r.DestinationGroups, f.Destination)
	for _, ref := range r.ServiceGroups {
		for _, s := range rg.services(ref.ID, 0) {
			if refServiceMatches(s, nil, f) {
				return src, dst, rg.g.Service[ref.ID].Name
			}
		}
	}
	return src, dst, ""
}

// refEvaluateGroups is refTree.evaluate with groups expanded by rg, and the
// explained path of the decision.
func refEvaluateGroups(rt *refTree, rg refGroups, f firewall.Flow, now time.Time) (firewall.Decision, []firewall.Step) {
	var path []firewall.Step
	for _, p := range rt.pols {
		st := firewall.Step{PolicyID: p.p.ID, PolicyName: p.p.Name}
		if !p.p.Enabled {
			st.Outcome = firewall.OutcomeDisabled
			path = append(path, st)
			continue
		}
		for _, r := range p.rules {
			if !r.Enabled || !refTerminal(r.Action) || !rg.matches(r, &f) {
				continue
			}
			if r.Expired(now) {
				if len(st.ExpiredRules) < firewall.MaxExpiredRules {
					st.ExpiredRules = append(st.ExpiredRules, r.ID)
				}
				continue
			}
			st.Outcome, st.RuleID = firewall.OutcomeRuleMatched, r.ID
			st.SourceGroup, st.DestinationGroup, st.ServiceGroup = rg.names(r, &f)
			return firewall.Decision{Action: r.Action, DecidedBy: firewall.ByRule, PolicyID: p.p.ID, RuleID: r.ID,
				Revision: rt.fw.Revision}, append(path, st)
		}
		if refTerminal(p.p.DefaultAction) {
			st.Outcome = firewall.OutcomePolicyDefault
			return firewall.Decision{Action: p.p.DefaultAction, DecidedBy: firewall.ByPolicyDefault, PolicyID: p.p.ID,
				Revision: rt.fw.Revision}, append(path, st)
		}
		st.Outcome = firewall.OutcomeFellThrough
		path = append(path, st)
	}
	return firewall.Decision{Action: rt.fw.DefaultAction, DecidedBy: firewall.ByFirewallDefault, Revision: rt.fw.Revision}, path
}

// TestDifferentialGroups compares the matcher with the linear reference on
// random firewalls whose rules use random nested address and service
// groups, every decision and every explained path, including the groups
// the path names.
func TestDifferentialGroups(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -args -engine.seed=%d)", seed, seed)
	shapes := []struct {
		name                 string
		trees, rules, groups int
		flows                int
		junk                 bool
	}{
		{"small", 300, 12, 6, 500, true},
		{"medium", 30, 150, 40, 2000, true},
		{"large", 2, 2000, 300, 10000, false},
	}
	scale := 1
	if testing.Short() || raceEnabled {
		scale = 4
	}
	total, grouped := 0, 0
	for si, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(100+si)))
			for ti := 0; ti < max(1, sh.trees/scale); ti++ {
				tree := fwgen.NewAdversarial(r, sh.junk).Tree(4, sh.rules)
				fg := fwgen.NewFlows(r, &tree, sh.junk)
				fwgen.AddGroups(r, &tree, sh.groups)
				for _, pt := range tree.Policies {
					for _, rule := range pt.Rules {
						if len(rule.SourceGroups)+len(rule.DestinationGroups)+len(rule.ServiceGroups) > 0 {
							grouped++
						}
					}
				}
				ref, rg := newRef(&tree), refGroups{&tree.Groups}
				big := bigBucket
				if ti%2 == 0 {
					big = 8
				}
				m, err := compile(tree, big)
				if !ref.valid() {
					continue
				}
				if err != nil {
					t.Fatalf("seed %d: tree %d: Compile: %v", seed, ti, err)
				}
				nowChoices := []time.Time{fwgen.Now, fwgen.Now.Add(-2 * time.Hour), fwgen.Now.Add(2 * time.Hour)}
				for fi := 0; fi < sh.flows; fi++ {
					f := fg.Flow()
					now := nowChoices[fi%len(nowChoices)]
					explain := fi%16 == 0
					got := m.Evaluate(f, now, explain)
					want, path := refEvaluateGroups(ref, rg, f, now)
					total++
					if explain {
						if diff := cmp.Diff(path, got.Path); diff != "" {
							t.Fatalf("seed %d: tree %d: flow %+v at %v: path (-want +got):\n%s", seed, ti, f, now, diff)
						}
					}
					if !sameDecision(got, want) {
						t.Fatalf("seed %d: tree %d: flow %+v at %v:\n got %+v\nwant %+v", seed, ti, f, now, got, want)
					}
				}
			}
		})
	}
	t.Logf("total: %d flows, %d rules with groups, 0 disagreements", total, grouped)
}
