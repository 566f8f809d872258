package engine

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

var diffSeed = flag.Uint64("engine.seed", 0, "seed of TestDifferential (0: time-based)")

// TestDifferential compares the matcher with the linear reference on random
// firewalls and flows biased towards prefix and port-range edges.
func TestDifferential(t *testing.T) {
	seed := *diffSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -args -engine.seed=%d)", seed, seed)

	// 1,000,000 flows in a normal run; a quarter under the race detector,
	// a tenth with -short.
	type shape struct {
		name               string
		trees, maxPolicies int
		rules, flows       int
		junk, sparse       bool
	}
	shapes := []shape{
		{"small", 400, 3, 12, 750, true, false},
		{"medium", 150, 5, 120, 2000, true, false},
		{"medium-sparse", 150, 5, 300, 1500, true, true},
		{"large-sparse", 10, 6, 3000, 15000, false, true},
		{"large", 5, 6, 2000, 20000, true, false},
	}
	scale := 1
	switch {
	case testing.Short():
		scale = 10
	case raceEnabled:
		scale = 4
	}
	totalFlows, totalRules := 0, 0
	for si, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, uint64(si)))
			var nFlows, nRule, nDef, nFw, nExplained int
			type ruleKey struct {
				tree int
				id   string
			}
			deciders := map[ruleKey]bool{}
			for ti := 0; ti < max(1, sh.trees/scale); ti++ {
				g := fwgen.NewAdversarial(r, sh.junk)
				g.Sparse = sh.sparse
				tree := g.Tree(sh.maxPolicies, sh.rules)
				ref := newRef(&tree)
				// Every other firewall has every span of more than eight
				// entries split by protocol and destination port, so that
				// the split is checked whatever the size of the firewall.
				big := bigBucket
				if ti%2 == 0 {
					big = 8
				}
				m, err := compile(tree, big)
				if !ref.valid() {
					if err == nil {
						t.Fatalf("seed %d: tree %d: Compile accepted firewall default %q", seed, ti, tree.Firewall.DefaultAction)
					}
					continue
				}
				if err != nil {
					t.Fatalf("seed %d: tree %d: Compile: %v", seed, ti, err)
				}
				for _, pt := range tree.Policies {
					totalRules += len(pt.Rules)
				}
				fg := fwgen.NewFlows(r, &tree, sh.junk)
				nowChoices := []time.Time{fwgen.Now, fwgen.Now.Add(-2 * time.Hour), fwgen.Now.Add(2 * time.Hour)}
				for fi := 0; fi < sh.flows; fi++ {
					f := fg.Flow()
					now := nowChoices[fi%len(nowChoices)]
					explain := fi%64 == 0
					got := m.Evaluate(f, now, explain)
					want := ref.evaluate(f, now)
					nFlows++
					switch want.DecidedBy {
					case firewall.ByRule:
						nRule++
						deciders[ruleKey{ti, want.RuleID}] = true
					case firewall.ByPolicyDefault:
						nDef++
					default:
						nFw++
					}
					if explain {
						nExplained++
						if diff := cmp.Diff(ref.explain(f, now), got.Path); diff != "" {
							t.Fatalf("seed %d: tree %d: flow %+v at %v: path (-want +got):\n%s", seed, ti, f, now, diff)
						}
						got.Path = nil
					}
					if !sameDecision(got, want) {
						t.Fatalf("seed %d: tree %d: flow %+v at %v:\n got %+v\nwant %+v", seed, ti, f, now, got, want)
					}
				}
			}
			totalFlows += nFlows
			t.Logf("%d flows: %d by rule (%d distinct rules), %d by policy default, %d by firewall default; %d explained",
				nFlows, nRule, len(deciders), nDef, nFw, nExplained)
		})
	}
	t.Logf("total: %d flows against %d rules, 0 disagreements", totalFlows, totalRules)
	if scale == 1 && totalFlows < 1_000_000 && !t.Failed() {
		t.Errorf("only %d flows compared; want at least 1,000,000", totalFlows)
	}
}

// sameDecision compares everything but the path.
func sameDecision(a, b firewall.Decision) bool {
	return a.Action == b.Action && a.DecidedBy == b.DecidedBy && a.PolicyID == b.PolicyID &&
		a.RuleID == b.RuleID && a.Revision == b.Revision
}
