package analysis

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/engine"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// The oracle's own reading of groups, written plainly: a group's members
// are its literal members and those of the groups it names, walked once
// each; a rule's set is its literal list plus its groups' members; a rule
// with service groups matches a flow one of their services matches, and
// any flow when they hold no service.

func refUnion(g *firewall.Groups, literal []netip.Prefix, refs []firewall.GroupRef) []netip.Prefix {
	if len(refs) == 0 {
		return literal // the common case, without copying once per cell
	}
	return append(slices.Clone(literal), fwgen.AddressMembers(g, refs)...)
}

func refServices(g *firewall.Groups, refs []firewall.GroupRef) []firewall.Service {
	return fwgen.ServiceMembers(g, refs)
}

func refServicesMatch(g *firewall.Groups, refs []firewall.GroupRef, f firewall.Flow) bool {
	if len(refs) == 0 {
		return true
	}
	svcs := refServices(g, refs)
	if len(svcs) == 0 {
		return true
	}
	for _, s := range svcs {
		if s.Protocol != firewall.AnyProtocol && s.Protocol != f.Protocol {
			continue
		}
		if len(s.Ports) == 0 {
			return true
		}
		if f.Protocol.HasPorts() && refPortIn(s.Ports, f.DestinationPort) {
			return true
		}
	}
	return false
}

func refServicePorts(g *firewall.Groups, refs []firewall.GroupRef) []firewall.PortRange {
	var out []firewall.PortRange
	for _, s := range refServices(g, refs) {
		out = append(out, s.Ports...)
	}
	return out
}

// TestFindingsMatchOracleWithGroups is the oracle test on random trees
// whose rules use nested address and service groups.
func TestFindingsMatchOracleWithGroups(t *testing.T) {
	want := oracleCount(600, 150, 150)
	r := rand.New(rand.NewPCG(17, 2026))
	checked, skipped, withGroups := 0, 0, 0
	for seed := 0; checked < want; seed++ {
		g := fwgen.NewAdversarial(r, seed%4 == 0)
		tree := g.Tree(3, 1+r.IntN(6))
		fwgen.Groups(r, &tree, r.IntN(5), r.IntN(4))
		switch checkOracle(t, seed, tree) {
		case oracleChecked:
			checked++
			if len(tree.Groups.Address)+len(tree.Groups.Service) > 0 {
				withGroups++
			}
		case oracleTooBig:
			skipped++
		}
	}
	t.Logf("%d firewalls checked against the oracle, %d with groups (%d skipped as too many cells)", checked, withGroups, skipped)
}

// TestFindingsNameGroups checks that a finding on a rule written against
// groups names them, for the rule and for the rules that take its flows.
func TestFindingsNameGroups(t *testing.T) {
	web := firewall.AddressGroup{Name: "web-servers", Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24")}}
	web.ID = "ag-web"
	inner := firewall.AddressGroup{Name: "web-one", Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.1.5/32")}}
	inner.ID = "ag-one"
	https := firewall.ServiceGroup{Name: "https", Services: []firewall.Service{{Protocol: firewall.TCP, Ports: []firewall.PortRange{{Low: 443, High: 443}}}}}
	https.ID = "sg-https"
	fw := firewall.NewFirewall()
	fw.ID = "fw"
	pol := firewall.NewPolicy()
	pol.ID, pol.Name = "p", "edge"
	r3 := firewall.NewRule()
	r3.ID, r3.Position, r3.Action = "r3", 1, firewall.Deny
	r3.SourceGroups = []firewall.GroupRef{{ID: "ag-web"}}
	webIn := firewall.NewRule()
	webIn.ID, webIn.Name, webIn.Position, webIn.Action = "r4", "web-in", 2, firewall.Allow
	webIn.SourceGroups = []firewall.GroupRef{{ID: "ag-one", Name: "web-one"}}
	webIn.ServiceGroups = []firewall.GroupRef{{ID: "sg-https", Name: "https"}}
	tree := firewall.Tree{Firewall: fw, Policies: []firewall.PolicyTree{{Policy: pol, Rules: []firewall.Rule{r3, webIn}}},
		Groups: firewall.Groups{
			Address: map[string]firewall.AddressGroup{web.ID: web, inner.ID: inner},
			Service: map[string]firewall.ServiceGroup{https.ID: https},
		}}
	m, err := New(tree, fwgen.Now)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.Findings(Options{Kinds: []Kind{Unreachable}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].RuleID != "r4" {
		t.Fatalf("want one unreachable finding on r4, got %+v", rep.Findings)
	}
	f := rep.Findings[0]
	for _, want := range []string{`"web-in"`, "source group web-one", "service group https", "rule r3, source group web-servers (deny)"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q does not say %q", f.Message, want)
		}
	}
	wantUses := []GroupUse{{Field: "source", ID: "ag-one", Name: "web-one"}, {Field: "service", ID: "sg-https", Name: "https"}}
	if len(f.Groups) != len(wantUses) || f.Groups[0] != wantUses[0] || f.Groups[1] != wantUses[1] {
		t.Errorf("groups: got %+v, want %+v", f.Groups, wantUses)
	}
	// The engine on the expanded tree agrees with the model on a flow.
	em, err := engine.Compile(tree)
	if err != nil {
		t.Fatal(err)
	}
	d := em.Evaluate(firewall.Flow{Protocol: firewall.TCP, Source: netip.MustParseAddr("10.0.1.5"), Destination: netip.MustParseAddr("192.0.2.1"), SourcePort: 1000, DestinationPort: 443}, fwgen.Now, false)
	if d.RuleID != "r3" {
		t.Errorf("the engine decides by %q, want r3", d.RuleID)
	}
}
