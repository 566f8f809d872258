package httpapi

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/export"
	"github.com/fireflow/fireflow/internal/export/kerneltest"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// TestImportGroupsKernel: random firewalls with nested groups are exported
// to nftables with named sets and loaded into the kernel of a lab; the
// kernel's own `nft -j list ruleset` goes through the import endpoint
// (apply, groups=rename so that each import makes its own groups); then
// packets sent through the lab and the imported firewall's evaluate
// endpoint must agree on every flow. The kernel is the judge: what the
// API decides is what the loaded nft ruleset does.
func TestImportGroupsKernel(t *testing.T) {
	kerneltest.Require(t, "nft", "sysctl")
	const firewalls, flowsEach = 8, 400
	lab := kerneltest.NewLab(t)
	s := newTestServer(t)
	r := rand.New(rand.NewPCG(17, 71))
	groups, compared := 0, 0
	counts := map[kerneltest.Verdict]int{}
	for i := range firewalls {
		tree := fwgen.NewAdversarial(r, false).Tree(4, 30)
		fwgen.Groups(r, &tree, 2+r.IntN(6), 1+r.IntN(4))
		unmapAddresses(&tree)
		tree.Firewall.Name = fmt.Sprintf("kernel import %d", i)
		res, err := export.Render(&tree, export.Options{Format: export.NFTables, Now: fwgen.Now, Table: "ffapi"})
		if err != nil {
			t.Fatalf("firewall %d: render: %v", i, err)
		}
		if err := lab.Exec(lab.Firewall, nil, "nft", "flush", "ruleset"); err != nil {
			t.Fatal(err)
		}
		if err := lab.LoadNFT(res.Text); err != nil {
			t.Fatalf("firewall %d: load: %v\n%s", i, err, res.Text)
		}
		dump, err := lab.Output(lab.Firewall, nil, "nft", "-j", "list", "ruleset")
		if err != nil {
			t.Fatal(err)
		}
		fwID := s.newFirewall(fmt.Sprintf("imported %d", i))
		imp := s.must(http.StatusOK, http.MethodPost, importURL(fwID, "format=nftables&apply=true&groups=rename"), string(dump))
		if n := len(imp["skipped"].([]any)); n > 0 {
			t.Fatalf("firewall %d: the import of an export skipped %d statements: %v", i, n, imp["skipped"])
		}
		groups += len(imp["groups"].([]any))

		flows := kernelFlows(r, &tree, flowsEach)
		verdicts, err := lab.Probe(flows, 150*time.Millisecond)
		if err != nil {
			t.Fatalf("firewall %d: probe: %v", i, err)
		}
		decisions := evaluateAll(t, s, fwID, flows)
		var bad []string
		for j, f := range flows {
			action := decisions[j]
			counts[verdicts[j]]++
			if want := kerneltest.Expect(f, action); verdicts[j] != want {
				bad = append(bad, fmt.Sprintf("%s %s:%d -> %s:%d: the API says %s, the kernel %s", f.Protocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, action, verdicts[j]))
			}
		}
		compared += len(flows)
		if len(bad) > 0 {
			t.Fatalf("firewall %d: %d disagreement(s):\n%s\nruleset:\n%s", i, len(bad), strings.Join(bad[:min(len(bad), 10)], "\n"), res.Text)
		}
	}
	if groups == 0 {
		t.Fatal("no set came back as a group: the test proves nothing about groups")
	}
	t.Logf("%d firewalls, %d groups imported, %d flows sent, 0 disagreements; verdicts %v", firewalls, groups, compared, counts)
}

// kernelFlows draws n flows the lab can send, from t's interesting values.
func kernelFlows(r *rand.Rand, t *firewall.Tree, n int) []firewall.Flow {
	flat := fwgen.Expand(*t)
	g := fwgen.NewFlows(r, &flat, false)
	out := make([]firewall.Flow, 0, n)
	for tries := 0; len(out) < n && tries < 100*n; tries++ {
		f := g.Flow()
		if f.Protocol == firewall.ICMP && f.Source.Is6() && r.IntN(2) == 0 {
			f.Protocol = firewall.ICMPv6
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

// unmapAddresses moves the tree's IPv4-mapped IPv6 prefixes (which the
// generator makes and FireFlow refuses to import, since it cannot hold
// them) into 64:ff9b::/96, keeping the rules' shapes.
func unmapAddresses(t *firewall.Tree) {
	move := func(ps []netip.Prefix) {
		for i, p := range ps {
			if p.Addr().Is4In6() {
				b := p.Addr().As16()
				copy(b[:12], []byte{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})
				ps[i] = netip.PrefixFrom(netip.AddrFrom16(b), p.Bits()).Masked()
			}
		}
	}
	for i := range t.Policies {
		for j := range t.Policies[i].Rules {
			move(t.Policies[i].Rules[j].Sources)
			move(t.Policies[i].Rules[j].Destinations)
		}
	}
	for id, g := range t.Groups.Address {
		move(g.Addresses)
		t.Groups.Address[id] = g
	}
}
