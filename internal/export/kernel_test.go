package export_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/export/kerneltest"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// The kernel proof's size: at least 50 random firewalls × 500 flows per
// format family.
const (
	kernelFirewalls = 50
	kernelFlows     = 500
	// kernelQuiet is how long a batch waits after its last packet: veth
	// pairs deliver within microseconds, so this only guards slow CI.
	kernelQuiet = 150 * time.Millisecond
)

// probeableFlows draws n flows for t that a real packet can be and whose
// fate the ruleset alone decides (kerneltest.Probeable names the others:
// multicast, limited broadcast, loopback, link-local, unspecified and
// IPv4-mapped addresses, icmp with IPv6, mixed families, port 0).
func probeableFlows(r *rand.Rand, t *firewall.Tree, n int) []firewall.Flow {
	g := fwgen.NewFlows(r, t, false)
	out := make([]firewall.Flow, 0, n)
	for tries := 0; len(out) < n && tries < 100*n; tries++ {
		f := g.Flow()
		if f.Protocol == firewall.ICMP && f.Source.Is6() && r.IntN(2) == 0 {
			f.Protocol = firewall.ICMPv6 // keep the icmp share of IPv6 flows
		}
		if !f.Protocol.HasPorts() {
			f.SourcePort, f.DestinationPort = 0, 0
		}
		if kerneltest.Probeable(f) == "" {
			out = append(out, f)
		}
	}
	return out
}

type kernelRun struct {
	name string
	load func(lab *kerneltest.Lab, tree *firewall.Tree, stateful bool) (string, error)
	// blocky makes every other tree's policies runs of one action and
	// protocol, the shape merging joins.
	blocky bool
}

// makeBlocky gives most rules of each policy one action and one transport
// protocol, so that consecutive rules share their shape.
func makeBlocky(r *rand.Rand, t *firewall.Tree) {
	for i := range t.Policies {
		a := []firewall.Action{firewall.Allow, firewall.Deny, firewall.Reject}[r.IntN(3)]
		p := []firewall.Protocol{firewall.TCP, firewall.UDP}[r.IntN(2)]
		for j := range t.Policies[i].Rules {
			rule := &t.Policies[i].Rules[j]
			if r.IntN(5) == 0 {
				continue
			}
			rule.Action = a
			if rule.Protocol.HasPorts() || rule.Protocol == firewall.AnyProtocol {
				rule.Protocol = p
			}
		}
	}
}

func loadNFT(lab *kerneltest.Lab, tree *firewall.Tree, stateful bool) (string, error) {
	return loadNFTWith(lab, tree, stateful, false)
}

func loadNFTMerged(lab *kerneltest.Lab, tree *firewall.Tree, stateful bool) (string, error) {
	return loadNFTWith(lab, tree, stateful, true)
}

func loadNFTWith(lab *kerneltest.Lab, tree *firewall.Tree, stateful, merge bool) (string, error) {
	res, err := export.Render(tree, export.Options{Format: export.NFTables, Stateful: stateful, Merge: merge, Now: fwgen.Now, Table: "fireflow_proof"})
	if err != nil {
		return "", err
	}
	return string(res.Text), lab.LoadNFT(res.Text)
}

func loadIPTables(lab *kerneltest.Lab, tree *firewall.Tree, stateful bool) (string, error) {
	v4, err := export.Render(tree, export.Options{Format: export.IPTables, Stateful: stateful, Now: fwgen.Now})
	if err != nil {
		return "", err
	}
	v6, err := export.Render(tree, export.Options{Format: export.IP6Tables, Stateful: stateful, Now: fwgen.Now})
	if err != nil {
		return "", err
	}
	return string(v4.Text) + "\n" + string(v6.Text), lab.LoadIPTables(v4.Text, v6.Text)
}

// TestKernelAgrees is the proof: the Linux kernel, loaded with the export
// in a network namespace, decides real packets exactly as the engine
// decides their flows, for random firewalls (next defaults, disabled and
// expired rules, both families, every protocol), with and without
// stateful. Any disagreement fails with the flow, both verdicts and the
// ruleset.
func TestKernelAgrees(t *testing.T) {
	t.Parallel()
	for _, run := range []kernelRun{{"nftables", loadNFT, false}, {"nftables-merged", loadNFTMerged, true}, {"iptables", loadIPTables, false}} {
		t.Run(run.name, func(t *testing.T) {
			t.Parallel() // each format has its own lab of namespaces
			if strings.HasPrefix(run.name, "nftables") {
				kerneltest.Require(t, "nft", "sysctl")
			} else {
				kerneltest.Require(t, "iptables-restore", "ip6tables-restore", "sysctl")
			}
			start := time.Now()
			lab := kerneltest.NewLab(t)
			r := rand.New(rand.NewPCG(16, uint64(len(run.name))))
			calibrate(t, lab, r)
			counts := map[string]int{}
			var failures []string
			for i := range kernelFirewalls {
				tree := fwgen.NewAdversarial(r, false).Tree(6, 40)
				tree.Firewall.Name = fmt.Sprintf("proof %d", i)
				if run.blocky && i%2 == 0 {
					makeBlocky(r, &tree)
				}
				stateful := i%2 == 1
				text, err := run.load(lab, &tree, stateful)
				if err != nil {
					t.Fatalf("firewall %d: load: %v", i, err)
				}
				counts["merged statements"] += strings.Count(text, `comment "rules `)
				m, err := engine.Compile(tree)
				if err != nil {
					t.Fatalf("firewall %d: compile: %v", i, err)
				}
				flows := probeableFlows(r, &tree, kernelFlows)
				got, err := lab.Probe(flows, kernelQuiet)
				if err != nil {
					t.Fatalf("firewall %d: %v", i, err)
				}
				first := true
				for j, f := range flows {
					d := m.Evaluate(f, fwgen.Now, false)
					want := kerneltest.Expect(f, d.Action)
					fam := "IPv4"
					if f.Source.Is6() {
						fam = "IPv6"
					}
					counts[fam+" "+string(got[j])]++
					if got[j] != want {
						msg := fmt.Sprintf("firewall %d (stateful %t): %s %s:%d -> %s:%d: engine says %s (by %s %s %s), kernel %s",
							i, stateful, f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort,
							d.Action, d.DecidedBy, d.PolicyID, d.RuleID, got[j])
						if first && len(failures) < 3 {
							msg += "\n" + text
						}
						first = false
						failures = append(failures, msg)
					}
				}
			}
			t.Logf("%s: %d firewalls × %d flows in %v; verdicts %v",
				run.name, kernelFirewalls, kernelFlows, time.Since(start).Round(time.Millisecond), counts)
			if run.name == "nftables-merged" && counts["merged statements"] == 0 {
				t.Error("no statement was merged: the merged run proves nothing")
			}
			if len(failures) > 0 {
				shown := failures[:min(len(failures), 30)]
				t.Fatalf("%d disagreement(s) between the kernel and the engine:\n%s", len(failures), strings.Join(shown, "\n"))
			}
		})
	}
}

// calibrate checks the lab before any ruleset: with no rules loaded, every
// probeable flow must arrive, or the exclusion list or the lab is wrong.
func calibrate(t *testing.T, lab *kerneltest.Lab, r *rand.Rand) {
	t.Helper()
	tree := fwgen.NewAdversarial(r, false).Tree(4, 40)
	flows := probeableFlows(r, &tree, kernelFlows)
	got, err := lab.Probe(flows, kernelQuiet)
	if err != nil {
		t.Fatalf("calibrate: %v", err)
	}
	var bad []string
	for i, f := range flows {
		if got[i] != kerneltest.Arrived {
			bad = append(bad, fmt.Sprintf("%s %s:%d -> %s:%d: %s", f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, got[i]))
		}
	}
	if len(bad) > 0 {
		t.Fatalf("calibrate: with no ruleset, %d of %d flows did not arrive:\n%s", len(bad), len(flows), strings.Join(bad[:min(len(bad), 30)], "\n"))
	}
}

// TestKernelExclusions shows that kerneltest.Excluded is exact: with no
// ruleset at all, the kernel drops every packet with an excluded address
// in the excluded role, and forwards packets with the addresses next to
// them. The proof leaves the excluded ones out because no ruleset decides
// them.
func TestKernelExclusions(t *testing.T) {
	t.Parallel()
	kerneltest.Require(t, "sysctl")
	lab := kerneltest.NewLab(t)
	var flows []firewall.Flow
	for _, a := range []string{
		"0.0.0.0", "127.0.0.1", "224.0.0.5", "239.1.2.3", "255.255.255.255", "::", "::1", "fe80::1", "ff02::1", "ff0e::1",
		"0.0.0.1", "169.254.1.1", "240.0.0.1", "126.255.255.255", "223.255.255.255", "255.255.255.254",
		"::2", "::a00:1", "::ffff:192.0.2.1", "fec0::1", "fe7f::1", "fec0::", "feff::1",
	} {
		addr := netip.MustParseAddr(a)
		other := netip.MustParseAddr("192.0.2.1")
		if addr.Is6() {
			other = netip.MustParseAddr("2001:db8::1")
		}
		for _, p := range []firewall.Protocol{firewall.TCP, firewall.UDP} {
			flows = append(flows,
				firewall.Flow{Protocol: p, Source: addr, Destination: other, SourcePort: 1000, DestinationPort: 80},
				firewall.Flow{Protocol: p, Source: other, Destination: addr, SourcePort: 1000, DestinationPort: 80})
		}
	}
	got, err := lab.Probe(flows, kernelQuiet)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range flows {
		why := kerneltest.Excluded(f.Source, true) + kerneltest.Excluded(f.Destination, false)
		switch {
		case why != "" && got[i] != kerneltest.Dropped:
			t.Errorf("%s %s -> %s: %s with no ruleset, yet it is excluded (%s)", f.Protocol, f.Source, f.Destination, got[i], why)
		case why == "" && got[i] != kerneltest.Arrived:
			t.Errorf("%s %s -> %s: %s with no ruleset, yet it is not excluded", f.Protocol, f.Source, f.Destination, got[i])
		}
	}
}

// TestKernelStatefulReturn shows what stateful adds: replies (sent by the
// server) to flows the firewall let through pass back, whatever the rules
// say of the reversed flow; without it, and for flows it did not let
// through, a reply is decided by the rules like any other flow.
func TestKernelStatefulReturn(t *testing.T) {
	t.Parallel()
	for _, run := range []kernelRun{{"nftables", loadNFT, false}, {"iptables", loadIPTables, false}} {
		t.Run(run.name, func(t *testing.T) {
			t.Parallel()
			if run.name == "nftables" {
				kerneltest.Require(t, "nft", "sysctl")
			} else {
				kerneltest.Require(t, "iptables-restore", "ip6tables-restore", "sysctl")
			}
			r := rand.New(rand.NewPCG(17, uint64(run.name[0])))
			passedOnlyByState := 0
			for i := range 5 {
				// A fresh lab per firewall: no conntrack entry survives from
				// another ruleset.
				lab := kerneltest.NewLab(t)
				tree := fwgen.NewAdversarial(r, false).Tree(4, 30)
				m, err := engine.Compile(tree)
				if err != nil {
					t.Fatal(err)
				}
				var flows []firewall.Flow
				for _, f := range probeableFlows(r, &tree, 400) {
					if kerneltest.Probeable(reverse(f)) == "" {
						flows = append(flows, f)
					}
				}
				for _, stateful := range []bool{false, true} {
					if _, err := run.load(lab, &tree, stateful); err != nil {
						t.Fatalf("firewall %d: load: %v", i, err)
					}
					fwd, err := lab.Probe(flows, kernelQuiet)
					if err != nil {
						t.Fatal(err)
					}
					back, err := lab.ProbeReplies(flows, kernelQuiet)
					if err != nil {
						t.Fatal(err)
					}
					for j, f := range flows {
						byRules := m.Evaluate(reverse(f), fwgen.Now, false).Action == firewall.Allow
						want := byRules || stateful && fwd[j] == kerneltest.Arrived
						if want && !byRules {
							passedOnlyByState++
						}
						if back[j] != want {
							t.Errorf("firewall %d, stateful %t: reply to %s %s:%d -> %s:%d (forward %s): arrived %t, want %t",
								i, stateful, f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, fwd[j], back[j], want)
						}
					}
				}
			}
			if passedOnlyByState == 0 {
				t.Fatal("no reply passed by state alone: the test proves nothing")
			}
			t.Logf("%s: %d replies passed only because stateful accepts established traffic", run.name, passedOnlyByState)
		})
	}
}

func reverse(f firewall.Flow) firewall.Flow {
	f.Source, f.Destination = f.Destination, f.Source
	f.SourcePort, f.DestinationPort = f.DestinationPort, f.SourcePort
	return f
}
