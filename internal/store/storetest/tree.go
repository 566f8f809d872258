package storetest

import (
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func treeCases() []testCase {
	return []testCase{
		{"Tree/LoadsEverythingInOrder", treeLoads},
		{"Tree/LoadMissingFirewall", treeMissing},
		{"Tree/RevisionFollowsBumps", treeRevision},
	}
}

func treeLoads(t *testing.T, f *fixture) {
	fw, p1, rules1 := f.tree("edge", 3)
	p0 := f.policy(fw.ID, "first", 10) // lower priority number, created later
	r0 := f.rule(fw.ID, p0.ID, 0, "only")
	other, _, _ := f.tree("other", 2) // must not leak into edge's tree
	_ = other

	got, err := f.s.LoadTree(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	fw, err = f.s.GetFirewall(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Tree{
		Firewall: fw,
		Policies: []firewall.Policy{p0, p1},
	}
	wantEqual(t, "firewall", got.Firewall, want.Firewall)
	wantEqual(t, "policies", got.Policies, want.Policies)
	// Rules come grouped by policy in position order; which group comes
	// first is not part of the contract.
	byPolicy := map[string][]firewall.Rule{}
	for _, r := range got.Rules {
		byPolicy[r.PolicyID] = append(byPolicy[r.PolicyID], r)
	}
	wantEqual(t, "rules of "+p0.Name, byPolicy[p0.ID], []firewall.Rule{r0})
	wantEqual(t, "rules of "+p1.Name, byPolicy[p1.ID], rules1)
	if len(got.Rules) != len(rules1)+1 {
		t.Fatalf("LoadTree returned %d rules, want %d", len(got.Rules), len(rules1)+1)
	}
}

func treeMissing(t *testing.T, f *fixture) {
	_, err := f.s.LoadTree(f.ctx, f.id())
	wantCode(t, err, firewall.CodeNotFound)
	_, err = f.s.GetRevision(f.ctx, f.id())
	wantCode(t, err, firewall.CodeNotFound)
}

func treeRevision(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	var bumped int64
	f.update(func(tx store.Tx) error {
		var err error
		bumped, err = tx.BumpRevision(f.ctx, fw.ID, f.etag(), f.now())
		return err
	})
	got, err := f.s.GetRevision(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != bumped || got != fw.Revision+1 {
		t.Fatalf("GetRevision = %d, want %d", got, fw.Revision+1)
	}
}
