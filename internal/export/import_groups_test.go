package export

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/firewall/fwgen"
)

// importedGroupTree is importedTree with the result's groups, given ids
// (their names) as a service would after creating them.
func importedGroupTree(t *testing.T, res *ImportResult) firewall.Tree {
	t.Helper()
	tree := importedTree(res)
	tree.Groups.Address = map[string]firewall.AddressGroup{}
	for _, g := range res.Groups {
		if err := g.Validate(); err != nil {
			t.Fatalf("group %q: %v", g.Name, err)
		}
		g.ID = g.Name
		tree.Groups.Address[g.ID] = g
	}
	for i := range tree.Policies {
		for j := range tree.Policies[i].Rules {
			r := &tree.Policies[i].Rules[j]
			for _, refs := range [][]firewall.GroupRef{r.SourceGroups, r.DestinationGroups} {
				for k := range refs {
					if _, ok := tree.Groups.Address[refs[k].Name]; !ok || refs[k].ID != "" {
						t.Fatalf("rule %s refers to %+v, which the result does not list by name", r.ID, refs[k])
					}
					refs[k].ID = refs[k].Name
				}
			}
		}
	}
	return tree
}

// TestImportNamedSetsAsGroups: with Groups, a rule matching addresses on a
// named set refers to an address group holding the set's elements; an
// anonymous set, or a named one narrowed by another match, is inlined.
func TestImportNamedSetsAsGroups(t *testing.T) {
	res, err := Import(ImportNFTables, readFixture(t, "sets.nft.json"), ImportOptions{Chain: "filt/forwardc", Groups: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Groups) != 1 || res.Groups[0].Name != "blocked" {
		t.Fatalf("groups %+v, want the one set matched on addresses, blocked", res.Groups)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.1/32"), netip.MustParsePrefix("172.16.0.2/31"),
		netip.MustParsePrefix("172.16.0.4/30"), netip.MustParsePrefix("172.16.0.8/31"), netip.MustParsePrefix("192.168.0.1/32")}
	if !slices.Equal(res.Groups[0].Addresses, want) {
		t.Errorf("blocked holds %v, want %v", res.Groups[0].Addresses, want)
	}
	first := res.Policies[0].Rules[0]
	if len(first.Sources) != 0 || len(first.SourceGroups) != 1 || first.SourceGroups[0].Name != "blocked" || first.Action != firewall.Deny {
		t.Errorf("the first rule is %+v, want a drop on source group blocked", first)
	}
	plain, err := Import(ImportNFTables, readFixture(t, "sets.nft.json"), ImportOptions{Chain: "filt/forwardc"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain.Groups) != 0 || len(plain.Policies[0].Rules[0].Sources) != len(want) {
		t.Errorf("without Groups the set must be inlined: %+v", plain.Policies[0].Rules[0])
	}
	// Decisions are the same either way.
	r := rand.New(rand.NewPCG(5, 5))
	a, b := importedTree(plain), importedGroupTree(t, res)
	flat := fwgen.Expand(b)
	compareDecisions(t, r, &a, &flat, 2000, func() string { return describe(res) })
}

// TestImportRoundTripGroupsKernel: random firewalls with nested groups,
// exported to nftables with named sets, loaded by the kernel and read back
// from nft -j: the sets come back as groups, and the import decides every
// sampled flow as the original (both with groups expanded by fwgen.Expand).
func TestImportRoundTripGroupsKernel(t *testing.T) {
	ns := importNS(t)
	r := rand.New(rand.NewPCG(71, 17))
	trees, flows, groups := 0, 0, 0
	for i := range 20 {
		tree := fwgen.NewAdversarial(r, false).Tree(5, 30)
		fwgen.Groups(r, &tree, 2+r.IntN(6), r.IntN(3))
		tree.Firewall.Name = fmt.Sprintf("rtg %d", i)
		res, err := Render(&tree, Options{Format: NFTables, Now: fwgen.Now, Table: "ffimp_rtg"})
		if err != nil {
			t.Fatalf("tree %d: render: %v", i, err)
		}
		dump := nsRun(t, ns, res.Text, "sh", "-c", "nft flush ruleset && nft -f - && nft -j list ruleset")
		imp, err := Import(ImportNFTables, dump, ImportOptions{Chain: "ffimp_rtg/forward", Groups: true})
		if err != nil {
			t.Fatalf("tree %d: import: %v\n%s", i, err, dump)
		}
		if len(imp.Skipped) > 0 {
			t.Fatalf("tree %d: the import of an export skipped %v\n%s", i, imp.Skipped, res.Text)
		}
		groups += len(imp.Groups)
		got := importedGroupTree(t, imp)
		want, gotFlat := fwgen.Expand(tree), fwgen.Expand(got)
		trees++
		flows += compareDecisions(t, r, &want, &gotFlat, 500, func() string { return string(res.Text) + "\n" + describe(imp) })
	}
	if groups == 0 {
		t.Fatal("no set came back as a group: the test proves nothing")
	}
	t.Logf("%d trees, %d groups imported, %d valid flows compared, 0 disagreements", trees, groups, flows)
}
