package storetest

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func groupCases() []testCase {
	return []testCase{
		{"Group/RoundTripWithNesting", groupRoundTrip},
		{"Group/NameUniqueCaseInsensitive", groupNameUnique},
		{"Group/ListFilterOrderPage", groupList},
		{"Group/RulesReferToGroups", groupRuleRefs},
		{"Group/UsageAndDelete", groupUsageDelete},
		{"Group/RuleFiltersThroughGroups", groupRuleFilters},
		{"Group/TreeMatchesRules", groupTreeMatchesRules},
	}
}

func (f *fixture) newAddressGroup(name string, nested ...firewall.GroupRef) firewall.AddressGroup {
	at := f.now()
	g := firewall.AddressGroup{Name: name, Labels: map[string]string{"env": "prod"},
		Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/64")},
		Groups:    append([]firewall.GroupRef{}, nested...)}
	g.ID, g.ETag, g.CreatedAt, g.UpdatedAt = f.id(), f.etag(), at, at
	f.update(func(tx store.Tx) error { return tx.CreateAddressGroup(f.ctx, &g) })
	return g
}

func (f *fixture) newServiceGroup(name string, nested ...firewall.GroupRef) firewall.ServiceGroup {
	at := f.now()
	g := firewall.ServiceGroup{Name: name, Labels: map[string]string{},
		Services: []firewall.Service{{Protocol: firewall.TCP, Ports: []firewall.PortRange{{Low: 443, High: 443}}}, {Protocol: firewall.ICMP}},
		Groups:   append([]firewall.GroupRef{}, nested...)}
	g.ID, g.ETag, g.CreatedAt, g.UpdatedAt = f.id(), f.etag(), at, at
	f.update(func(tx store.Tx) error { return tx.CreateServiceGroup(f.ctx, &g) })
	return g
}

func refTo(id, name string) firewall.GroupRef { return firewall.GroupRef{ID: id, Name: name} }

func groupRoundTrip(t *testing.T, f *fixture) {
	web := f.newAddressGroup("web")
	dmz := f.newAddressGroup("dmz", refTo(web.ID, "web"))
	got, err := f.s.GetAddressGroup(f.ctx, dmz.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "address group", got, dmz, cmpopts.EquateEmpty())
	https := f.newServiceGroup("https")
	all := f.newServiceGroup("all", refTo(https.ID, "https"))
	sg, err := f.s.GetServiceGroup(f.ctx, all.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "service group", sg, all, cmpopts.EquateEmpty())

	// Update replaces members and nesting.
	dmz.Addresses, dmz.Groups, dmz.ETag = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []firewall.GroupRef{}, f.etag()
	f.update(func(tx store.Tx) error { return tx.UpdateAddressGroup(f.ctx, &dmz) })
	got, _ = f.s.GetAddressGroup(f.ctx, dmz.ID)
	wantEqual(t, "updated address group", got, dmz, cmpopts.EquateEmpty())
	graph, err := f.s.GroupGraph(f.ctx, store.AddressGroupKind)
	if err != nil {
		t.Fatal(err)
	}
	if n := graph[dmz.ID]; n.Members != 1 || len(n.Nested) != 0 || graph[web.ID].Members != 2 {
		t.Fatalf("graph = %+v", graph)
	}
	_, err = f.s.GetAddressGroup(f.ctx, f.id())
	wantCode(t, err, firewall.CodeNotFound)
}

func groupNameUnique(t *testing.T, f *fixture) {
	f.newAddressGroup("Web-Servers")
	at := f.now()
	g := firewall.AddressGroup{Name: "web-servers"}
	g.ID, g.ETag, g.CreatedAt, g.UpdatedAt = f.id(), f.etag(), at, at
	wantCode(t, f.try(func(tx store.Tx) error { return tx.CreateAddressGroup(f.ctx, &g) }), firewall.CodeConflict)
	ref, err := f.s.FindGroup(f.ctx, store.AddressGroupKind, "WEB-SERVERS")
	if err != nil || ref.Name != "Web-Servers" {
		t.Fatalf("FindGroup by name = %+v, %v", ref, err)
	}
	if byID, err := f.s.FindGroup(f.ctx, store.AddressGroupKind, ref.ID); err != nil || byID != ref {
		t.Fatalf("FindGroup by id = %+v, %v", byID, err)
	}
	_, err = f.s.FindGroup(f.ctx, store.ServiceGroupKind, "web-servers")
	wantCode(t, err, firewall.CodeNotFound)
}

func groupList(t *testing.T, f *fixture) {
	for _, n := range []string{"c", "A", "b", "d"} {
		f.newAddressGroup(n)
	}
	p, err := f.s.ListAddressGroups(f.ctx, firewall.Query{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 2 || p.Items[0].Name != "A" || p.Items[1].Name != "b" || p.NextPageToken == "" {
		t.Fatalf("first page = %+v", p)
	}
	p, err = f.s.ListAddressGroups(f.ctx, firewall.Query{PageSize: 2, PageToken: p.NextPageToken})
	if err != nil || len(p.Items) != 2 || p.Items[0].Name != "c" {
		t.Fatalf("second page = %+v, %v", p, err)
	}
	p, err = f.s.ListAddressGroups(f.ctx, firewall.Query{Filter: `name = "b" OR name = "d"`, OrderBy: "name desc"})
	if err != nil || len(p.Items) != 2 || p.Items[0].Name != "d" {
		t.Fatalf("filtered = %+v, %v", p, err)
	}
	_, err = f.s.ListServiceGroups(f.ctx, firewall.Query{Filter: `colour = "red"`})
	wantCode(t, err, firewall.CodeInvalid)
}

func groupRuleRefs(t *testing.T, f *fixture) {
	web := f.newAddressGroup("web")
	dmz := f.newAddressGroup("dmz", refTo(web.ID, "web"))
	https := f.newServiceGroup("https")
	fw := f.firewall("edge")
	p := f.policy(fw.ID, "p", 1)
	r := f.newRule(fw.ID, p.ID, 0, "r")
	r.SourceGroups = []firewall.GroupRef{refTo(dmz.ID, "")}
	r.DestinationGroups = []firewall.GroupRef{refTo(web.ID, ""), refTo(dmz.ID, "")}
	r.ServiceGroups = []firewall.GroupRef{refTo(https.ID, "")}
	f.update(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
	got, err := f.s.GetRule(f.ctx, fw.ID, p.ID, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantEqual(t, "source groups", got.SourceGroups, []firewall.GroupRef{refTo(dmz.ID, "dmz")})
	wantEqual(t, "destination groups", got.DestinationGroups, []firewall.GroupRef{refTo(web.ID, "web"), refTo(dmz.ID, "dmz")})
	wantEqual(t, "service groups", got.ServiceGroups, []firewall.GroupRef{refTo(https.ID, "https")})
	page, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{})
	if err != nil || len(page.Items) != 1 {
		t.Fatal(page, err)
	}
	wantEqual(t, "listed destination groups", page.Items[0].DestinationGroups, got.DestinationGroups)
	tree, err := f.s.LoadTree(f.ctx, fw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree.Groups.Address) != 2 || len(tree.Groups.Service) != 1 || len(tree.Groups.Address[dmz.ID].Groups) != 1 {
		t.Fatalf("tree groups = %+v", tree.Groups)
	}
	wantEqual(t, "tree rule groups", tree.Rules[0].SourceGroups, got.SourceGroups)
	// An update replaces the references.
	got.DestinationGroups, got.ServiceGroups = nil, nil
	f.update(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &got) })
	again, _ := f.s.GetRule(f.ctx, fw.ID, p.ID, r.ID)
	if len(again.DestinationGroups) != 0 || len(again.ServiceGroups) != 0 || len(again.SourceGroups) != 1 {
		t.Fatalf("after update: %+v", again)
	}
}

func groupUsageDelete(t *testing.T, f *fixture) {
	web := f.newAddressGroup("web")
	dmz := f.newAddressGroup("dmz", refTo(web.ID, "web"))
	fw := f.firewall("edge")
	p := f.policy(fw.ID, "p", 1)
	r := f.newRule(fw.ID, p.ID, 0, "r")
	r.SourceGroups = []firewall.GroupRef{refTo(dmz.ID, "")}
	f.update(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
	u, err := f.s.GroupUsage(f.ctx, store.AddressGroupKind, web.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Groups) != 1 || u.Groups[0].ID != dmz.ID || len(u.Rules) != 1 || u.Rules[0].RuleID != r.ID ||
		u.Rules[0].Via.Name != "dmz" || u.Rules[0].Field != "source_groups" || u.Rules[0].FirewallName != "edge" {
		t.Fatalf("usage = %+v", u)
	}
	wantCode(t, f.try(func(tx store.Tx) error { return tx.DeleteAddressGroup(f.ctx, web.ID) }), firewall.CodeConflict)
	wantCode(t, f.try(func(tx store.Tx) error { return tx.DeleteAddressGroup(f.ctx, dmz.ID) }), firewall.CodeConflict)
	f.update(func(tx store.Tx) error { return tx.DeleteRule(f.ctx, fw.ID, p.ID, r.ID) })
	f.update(func(tx store.Tx) error { return tx.DeleteAddressGroup(f.ctx, dmz.ID) })
	f.update(func(tx store.Tx) error { return tx.DeleteAddressGroup(f.ctx, web.ID) })
	wantCode(t, f.try(func(tx store.Tx) error { return tx.DeleteAddressGroup(f.ctx, web.ID) }), firewall.CodeNotFound)
}

func groupRuleFilters(t *testing.T, f *fixture) {
	web := f.newAddressGroup("web")
	dmz := f.newAddressGroup("dmz", refTo(web.ID, "web"))
	at := f.now()
	empty := firewall.AddressGroup{Name: "empty"}
	empty.ID, empty.ETag, empty.CreatedAt, empty.UpdatedAt = f.id(), f.etag(), at, at
	f.update(func(tx store.Tx) error { return tx.CreateAddressGroup(f.ctx, &empty) })
	fw := f.firewall("edge")
	p := f.policy(fw.ID, "p", 1)
	mk := func(name string, literal []netip.Prefix, refs ...firewall.GroupRef) {
		r := f.newRule(fw.ID, p.ID, 0, name)
		r.Sources, r.SourceGroups = literal, refs
		f.update(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
	}
	mk("literal", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	mk("nested", nil, refTo(dmz.ID, ""))
	mk("empty-group", nil, refTo(empty.ID, ""))
	mk("any", nil)
	mk("both", []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, refTo(web.ID, ""))
	for _, tc := range []struct{ filter, want string }{
		{`source_contains("192.0.2.5")`, "[nested empty-group any both]"},
		{`source_contains("10.1.1.1")`, "[literal empty-group any]"},
		{`source_contains("198.51.100.7")`, "[empty-group any both]"},
		{`source_overlaps("192.0.0.0/16")`, "[nested empty-group any both]"},
		{`source_groups:"web"`, "[nested both]"},
		{`source_groups:"DMZ"`, "[nested]"},
		{`source_groups:"` + empty.ID + `"`, "[empty-group]"},
		{`source_groups:*`, "[nested empty-group both]"},
		{`destination_groups:* OR service_groups:"web"`, "[]"},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			page, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{Filter: tc.filter})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range page.Items {
				names = append(names, r.Name)
			}
			if got := fmt.Sprint(names); got != tc.want && !(tc.want == "[]" && len(names) == 0) {
				t.Fatalf("%s = %s, want %s", tc.filter, got, tc.want)
			}
		})
	}
}
