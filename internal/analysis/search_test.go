package analysis

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// refInSpace says whether f lies in sp, as the Space documentation reads.
func refInSpace(sp *Space, f firewall.Flow) bool {
	if len(sp.Protocols) > 0 && !slices.Contains(sp.Protocols, f.Protocol) && !slices.Contains(sp.Protocols, firewall.AnyProtocol) {
		return false
	}
	if (len(sp.SourcePorts) > 0 || len(sp.DestinationPorts) > 0) && !f.Protocol.HasPorts() {
		return false
	}
	in := func(ps []netip.Prefix, a netip.Addr) bool {
		for _, p := range ps {
			if p.Masked().Contains(a) {
				return true
			}
		}
		return false
	}
	if len(sp.Sources) > 0 && !in(sp.Sources, f.Source) || in(sp.SourcesExcept, f.Source) {
		return false
	}
	if len(sp.Destinations) > 0 && !in(sp.Destinations, f.Destination) || in(sp.DestinationsExcept, f.Destination) {
		return false
	}
	return refPortIn(sp.SourcePorts, f.SourcePort) && refPortIn(sp.DestinationPorts, f.DestinationPort)
}

func refTarget(t Target, d firewall.Decision) bool {
	return (t.Action == "" || d.Action == t.Action) && (t.RuleID == "" || d.RuleID == t.RuleID) && (t.DecidedBy == "" || d.DecidedBy == t.DecidedBy)
}

// randomSpace draws a header space from the tree's own prefixes and ports,
// so that it cuts through its rules.
func randomSpace(r *rand.Rand, tr *firewall.Tree) Space {
	var prefixes []netip.Prefix
	var ports []firewall.PortRange
	for _, pt := range tr.Policies {
		for _, rl := range pt.Rules {
			for _, p := range slices.Concat(rl.Sources, rl.Destinations) {
				if p.IsValid() {
					prefixes = append(prefixes, p.Masked())
				}
			}
			for _, pr := range slices.Concat(rl.SourcePorts, rl.DestinationPorts) {
				if pr.Low >= 1 && pr.Low <= pr.High {
					ports = append(ports, pr)
				}
			}
		}
	}
	prefixes = append(prefixes, netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("0.0.0.0/0"))
	ports = append(ports, firewall.PortRange{Low: 80, High: 443})
	pickP := func() []netip.Prefix {
		var out []netip.Prefix
		for range r.IntN(3) {
			out = append(out, prefixes[r.IntN(len(prefixes))])
		}
		return out
	}
	sp := Space{Sources: pickP(), Destinations: pickP(), SourcesExcept: pickP(), DestinationsExcept: pickP()}
	if r.IntN(3) == 0 {
		sp.SourcesExcept = nil
	}
	for range r.IntN(3) {
		sp.Protocols = append(sp.Protocols, []firewall.Protocol{firewall.TCP, firewall.UDP, firewall.ICMP, firewall.ICMPv6, firewall.AnyProtocol}[r.IntN(5)])
	}
	if r.IntN(3) == 0 {
		sp.DestinationPorts = []firewall.PortRange{ports[r.IntN(len(ports))]}
	}
	if r.IntN(6) == 0 {
		sp.SourcePorts = []firewall.PortRange{ports[r.IntN(len(ports))]}
	}
	return sp
}

// withCuts returns the tree with a disabled policy holding the space's
// prefixes and ports, so that the oracle's cells also cut at them.
func withCuts(tr firewall.Tree, sp Space) firewall.Tree {
	p := firewall.NewPolicy()
	p.ID, p.Priority, p.Enabled = "cuts", 1<<20, false
	r := firewall.NewRule()
	r.ID, r.Action = "cut", firewall.Allow
	r.Sources = slices.Concat(sp.Sources, sp.SourcesExcept)
	r.Destinations = slices.Concat(sp.Destinations, sp.DestinationsExcept)
	r.SourcePorts, r.DestinationPorts = sp.SourcePorts, sp.DestinationPorts
	tr.Policies = append(slices.Clone(tr.Policies), firewall.PolicyTree{Policy: p, Rules: []firewall.Rule{r}})
	return tr
}

func randomTarget(r *rand.Rand, tr *firewall.Tree) Target {
	var t Target
	switch r.IntN(4) {
	case 0:
		t.Action = []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject}[r.IntN(3)]
	case 1:
		pt := tr.Policies[r.IntN(len(tr.Policies))]
		if len(pt.Rules) > 0 {
			t.RuleID = pt.Rules[r.IntN(len(pt.Rules))].ID
		}
	case 2:
		t.DecidedBy = []firewall.DecidedBy{firewall.ByRule, firewall.ByPolicyDefault, firewall.ByFirewallDefault}[r.IntN(3)]
		if r.IntN(2) == 0 {
			t.Action = []firewall.Action{firewall.Allow, firewall.Deny}[r.IntN(2)]
		}
	}
	return t
}

func TestSearchMatchesOracle(t *testing.T) {
	n := oracleCount(1500, 200, 200)
	r := rand.New(rand.NewPCG(7, 15))
	checked := 0
	for seed := 0; checked < n; seed++ {
		tr := fwgen.NewAdversarial(r, seed%4 == 0).Tree(3, 1+r.IntN(5))
		em, err := engine.Compile(tr)
		if err != nil {
			continue
		}
		sp, target, invert := randomSpace(r, &tr), randomTarget(r, &tr), r.IntN(4) == 0
		cut := withCuts(tr, sp)
		cells := refCells(&cut, cellLimit)
		if cells == nil {
			continue
		}
		m, err := New(tr, fwgen.Now)
		if err != nil {
			t.Fatal(err)
		}
		res, err := m.Search(sp, target, invert)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if res.Exists {
			f := res.Example.Flow
			got := em.Evaluate(f, fwgen.Now, false)
			if refInSpace(&sp, f) == invert || !refTarget(target, got) || !sameDecision(got, res.Example.Decision) {
				t.Fatalf("seed %d: the example %+v (decided %+v, claimed %+v) is not in the space or misses %+v", seed, f, got, res.Example.Decision, target)
			}
		} else {
			for _, f := range cells {
				if refInSpace(&sp, f) != invert && refTarget(target, em.Evaluate(f, fwgen.Now, false)) {
					t.Fatalf("seed %d: search says none, but %+v is in the space (invert %v) and decided as %+v\nspace %+v\n%s",
						seed, f, invert, target, sp, dumpTree(&tr))
				}
			}
		}
		checked++
	}
	t.Logf("%d searches checked against the oracle", checked)
}
