package export_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/export/kerneltest"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// kernelGroupFirewalls is how many random firewalls with groups each
// format of the groups proof loads.
const kernelGroupFirewalls = 20

func loadIPTablesIPSet(lab *kerneltest.Lab, tree *firewall.Tree, stateful bool) (string, error) {
	var text strings.Builder
	var rs [2]*export.Result
	for i, f := range []export.Format{export.IPTables, export.IP6Tables} {
		res, err := export.Render(tree, export.Options{Format: f, Stateful: stateful, Now: fwgen.Now, IPSet: true})
		if err != nil {
			return "", err
		}
		rs[i] = res
		text.Write(res.IPSets)
		text.Write(res.Text)
		if err := lab.Exec(lab.Firewall, res.IPSets, "ipset", "restore"); err != nil {
			return text.String(), fmt.Errorf("ipset restore: %w", err)
		}
	}
	return text.String(), lab.LoadIPTables(rs[0].Text, rs[1].Text)
}

// TestKernelAgreesWithGroups is the kernel proof on random firewalls whose
// rules use nested address and service groups: nftables with named sets,
// iptables with the groups expanded, and iptables with ipsets. The judge
// is the engine run on the tree with its groups expanded into literal
// rules by fwgen.Expand, a plain walk apart from the export's and the
// domain's (exact: literal ∪ members is a prefix list, and a rule with
// services is one rule per service, same id, in order); the engine's own
// group support is built elsewhere and can replace it.
func TestKernelAgreesWithGroups(t *testing.T) {
	t.Parallel()
	runs := []kernelRun{{"nftables-sets", loadNFT, false}, {"nftables-sets-merged", loadNFTMerged, true}, {"iptables-expanded", loadIPTables, false}, {"iptables-ipset", loadIPTablesIPSet, false}}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			t.Parallel()
			switch run.name {
			case "nftables-sets", "nftables-sets-merged":
				kerneltest.Require(t, "nft", "sysctl")
			case "iptables-expanded":
				kerneltest.Require(t, "iptables-restore", "ip6tables-restore", "sysctl")
			default:
				kerneltest.Require(t, "iptables-restore", "ip6tables-restore", "ipset", "sysctl")
			}
			start := time.Now()
			lab := kerneltest.NewLab(t)
			r := rand.New(rand.NewPCG(17, uint64(len(run.name))))
			counts := map[string]int{}
			var failures []string
			for i := range kernelGroupFirewalls {
				tree := fwgen.NewAdversarial(r, false).Tree(4, 30)
				if run.blocky && i%2 == 0 {
					makeBlocky(r, &tree) // before the groups: it sets protocols
				}
				fwgen.Groups(r, &tree, 2+r.IntN(6), 1+r.IntN(4))
				tree.Firewall.Name = fmt.Sprintf("groups %d", i)
				stateful := i%2 == 1
				text, err := run.load(lab, &tree, stateful)
				if err != nil {
					t.Fatalf("firewall %d: load: %v\n%s", i, err, text)
				}
				counts["named set matches"] += strings.Count(text, " @g_") + strings.Count(text, "--match-set")
				counts["merged statements"] += strings.Count(text, `comment "rules `)
				flat := fwgen.Expand(tree)
				m, err := engine.Compile(flat)
				if err != nil {
					t.Fatalf("firewall %d: compile: %v", i, err)
				}
				flows := probeableFlows(r, &flat, kernelFlows)
				got, err := lab.Probe(flows, kernelQuiet)
				if err != nil {
					t.Fatalf("firewall %d: %v", i, err)
				}
				first := true
				for j, f := range flows {
					d := m.Evaluate(f, fwgen.Now, false)
					want := kerneltest.Expect(f, d.Action)
					counts[string(got[j])]++
					if got[j] != want {
						msg := fmt.Sprintf("firewall %d (stateful %t): %s %s:%d -> %s:%d: reference says %s (by %s %s %s), kernel %s",
							i, stateful, f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort,
							d.Action, d.DecidedBy, d.PolicyID, d.RuleID, got[j])
						if first && len(failures) < 2 {
							msg += "\n" + text
						}
						first = false
						failures = append(failures, msg)
					}
				}
			}
			t.Logf("%s: %d firewalls with groups × %d flows in %v; verdicts %v",
				run.name, kernelGroupFirewalls, kernelFlows, time.Since(start).Round(time.Millisecond), counts)
			if run.blocky && counts["merged statements"] == 0 {
				t.Error("no statement was merged: the merged run proves nothing")
			}
			if counts["named set matches"] == 0 && run.name != "iptables-expanded" {
				t.Error("no rule matched on a set: the run proves nothing about sets")
			}
			if len(failures) > 0 {
				t.Fatalf("%d disagreement(s) between the kernel and the reference:\n%s", len(failures), strings.Join(failures[:min(len(failures), 20)], "\n"))
			}
		})
	}
}
