package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

func filterCases() []testCase {
	return []testCase{
		{"Filter/Rules", filterRules},
		{"Filter/Firewalls", filterFirewalls},
		{"Filter/Policies", filterPolicies},
		{"Filter/AuditEvents", filterAudit},
		{"Filter/BadFiltersAreInvalid", filterInvalid},
		{"Filter/OrderByPagesInOrder", filterOrderPaging},
		{"Filter/TokenIsBoundToFilterAndOrder", filterTokenBinding},
		{"Filter/RuleWritesKeepListIndexCurrent", filterIndexFollowsWrites},
	}
}

// filterRow is one expression and the keys of the items it must select.
type filterRow struct {
	expr string
	want []string
}

// ruleSpec is one rule of the filter fixture, under a short key.
type ruleSpec struct {
	key, name, desc   string
	action            firewall.Action
	proto             firewall.Protocol
	src, dst          []string
	srcPorts, dstPort []string
	disabled          bool
	expires           string
}

// filterRuleSpecs is the rule fixture, in position order:
//
//	key     name         action proto src                           dst                                 sport       dport     on  expires
//	web     web          allow  tcp   10.0.0.0/8                    192.0.2.10/32                       -           443, 80   y   -
//	ssh     ssh          allow  tcp   10.1.2.0/24                   -                                   -           22        y   -
//	dns     dns          allow  udp   -                             198.51.100.53/32, 2001:db8::53/128  -           53        y   -
//	v6web   v6-web       allow  tcp   2001:db8:1::/48               2001:db8::/32                       1024-65535  443       y   -
//	block   block-bad    deny   any   203.0.113.0/24, 10.1.2.3/32   -                                   -           -         y   -
//	icmp    icmp         allow  icmp  -                             -                                   -           -         n   -
//	anon    (unnamed)    reject tcp   0.0.0.0/0                     10.1.0.0/16                         -           8000-9000 y   2030-01-01
//	mgmt    Edge-mgmt    allow  tcp   ::/0                          2001:db8:abcd::1/128                -           22, 443   y   2024-06-01
//	legacy  legacy-prod  deny   udp   172.16.0.0/12                 10.0.0.0/8                          53          1-1023    n   -
var filterRuleSpecs = []ruleSpec{
	{key: "web", name: "web", desc: "public web", action: firewall.Allow, proto: firewall.TCP,
		src: []string{"10.0.0.0/8"}, dst: []string{"192.0.2.10/32"}, dstPort: []string{"443", "80"}},
	{key: "ssh", name: "ssh", desc: "admin ssh from the office", action: firewall.Allow, proto: firewall.TCP,
		src: []string{"10.1.2.0/24"}, dstPort: []string{"22"}},
	{key: "dns", name: "dns", action: firewall.Allow, proto: firewall.UDP,
		dst: []string{"198.51.100.53/32", "2001:db8::53/128"}, dstPort: []string{"53"}},
	{key: "v6web", name: "v6-web", action: firewall.Allow, proto: firewall.TCP,
		src: []string{"2001:db8:1::/48"}, dst: []string{"2001:db8::/32"}, srcPorts: []string{"1024-65535"}, dstPort: []string{"443"}},
	{key: "block", name: "block-bad", action: firewall.Deny, proto: firewall.AnyProtocol,
		src: []string{"203.0.113.0/24", "10.1.2.3/32"}},
	{key: "icmp", name: "icmp", action: firewall.Allow, proto: firewall.ICMP, disabled: true},
	{key: "anon", action: firewall.Reject, proto: firewall.TCP,
		src: []string{"0.0.0.0/0"}, dst: []string{"10.1.0.0/16"}, dstPort: []string{"8000-9000"}, expires: "2030-01-01T00:00:00Z"},
	{key: "mgmt", name: "Edge-mgmt", action: firewall.Allow, proto: firewall.TCP,
		src: []string{"::/0"}, dst: []string{"2001:db8:abcd::1/128"}, dstPort: []string{"22", "443"}, expires: "2024-06-01T00:00:00Z"},
	{key: "legacy", name: "legacy-prod", action: firewall.Deny, proto: firewall.UDP,
		src: []string{"172.16.0.0/12"}, dst: []string{"10.0.0.0/8"}, srcPorts: []string{"53"}, dstPort: []string{"1-1023"}, disabled: true},
}

// filterRuleFixture stores the rule fixture in one policy and returns the
// firewall, the policy, and the stored rules by key.
func (f *fixture) filterRuleFixture() (firewall.Firewall, firewall.Policy, map[string]firewall.Rule) {
	f.t.Helper()
	fw := f.firewall("edge")
	p := f.policy(fw.ID, "main", 10)
	// Another policy's rules match many expressions and must never show up.
	other := f.policy(fw.ID, "other", 20)
	byKey := map[string]firewall.Rule{}
	for _, spec := range filterRuleSpecs {
		for _, pol := range []firewall.Policy{p, other} {
			r := f.newRule(fw.ID, pol.ID, 0, spec.name)
			r.Description, r.Action, r.Protocol, r.Enabled = spec.desc, spec.action, spec.proto, !spec.disabled
			r.Sources, r.Destinations = prefixes(f.t, spec.src...), prefixes(f.t, spec.dst...)
			r.SourcePorts, r.DestinationPorts = ports(f.t, spec.srcPorts...), ports(f.t, spec.dstPort...)
			if spec.expires != "" {
				at, err := time.Parse(time.RFC3339, spec.expires)
				if err != nil {
					f.t.Fatal(err)
				}
				r.ExpiresAt = &at
			}
			f.update(func(tx store.Tx) error { return tx.CreateRule(f.ctx, &r) })
			if pol.ID == p.ID {
				byKey[spec.key] = r
			}
		}
	}
	return fw, p, byKey
}

func all(except ...string) []string {
	var out []string
	for _, s := range filterRuleSpecs {
		if !slices.Contains(except, s.key) {
			out = append(out, s.key)
		}
	}
	return out
}

// filterRuleRows is the expression table of the rules collection. The
// expected sets follow from the fixture table above; an empty list means
// "any", so a rule without sources contains every source address.
func filterRuleRows(rules map[string]firewall.Rule) []filterRow {
	at := func(key string) string { return rules[key].CreatedAt.Format(time.RFC3339Nano) }
	return []filterRow{
		// Enums, = and !=, AND, OR, NOT, minus, implicit AND.
		{`action = "allow"`, []string{"web", "ssh", "dns", "v6web", "icmp", "mgmt"}},
		{`action = deny`, []string{"block", "legacy"}},
		{`action != "allow"`, []string{"block", "anon", "legacy"}},
		{`protocol = "udp"`, []string{"dns", "legacy"}},
		{`action = "deny" OR protocol = "udp"`, []string{"dns", "block", "legacy"}},
		{`protocol = "tcp" AND action = "allow"`, []string{"web", "ssh", "v6web", "mgmt"}},
		{`protocol = "tcp" action = "allow"`, []string{"web", "ssh", "v6web", "mgmt"}},
		{`NOT protocol = "tcp"`, []string{"dns", "block", "icmp", "legacy"}},
		{`-protocol = "tcp"`, []string{"dns", "block", "icmp", "legacy"}},
		{`(action = "allow" OR action = "reject") AND NOT protocol = "tcp"`, []string{"dns", "icmp"}},
		// Booleans.
		{`enabled`, all("icmp", "legacy")},
		{`NOT enabled`, []string{"icmp", "legacy"}},
		{`enabled = false`, []string{"icmp", "legacy"}},
		{`enabled = true AND action = "deny"`, []string{"block"}},
		// Numbers.
		{`position <= 3`, []string{"web", "ssh", "dns"}},
		{`position > 7`, []string{"mgmt", "legacy"}},
		{`position >= 2 AND position < 4`, []string{"ssh", "dns"}},
		{`position != 1`, all("web")},
		{`position = 0x3`, []string{"dns"}},
		// Strings and wildcards; matching is case-sensitive.
		{`name = "web"`, []string{"web"}},
		{`name = 'web'`, []string{"web"}},
		{`name = "v6-*"`, []string{"v6web"}},
		{`name = "*-prod"`, []string{"legacy"}},
		{`name = "*e*"`, []string{"web", "v6web", "mgmt", "legacy"}},
		{`name = "edge-*"`, nil},
		{`name = "Edge-*"`, []string{"mgmt"}},
		{`name = ""`, []string{"anon"}},
		{`name != ""`, all("anon")},
		{`name = "*"`, all()},
		{`name:"ss"`, []string{"ssh"}},
		{`description:"office"`, []string{"ssh"}},
		{`name > "legacy"`, []string{"web", "ssh", "v6web", "legacy"}},
		{`name = "it's"`, nil},
		{`name = "\"; DROP TABLE rules; --"`, nil},
		// The has-operator on lists: exact entries, and presence with *.
		{`sources:"10.0.0.0/8"`, []string{"web"}},
		{`sources:"10.1.2.3"`, []string{"block"}},
		{`sources:"10.1.2.3/32"`, []string{"block"}},
		{`sources:"10.1.2.0/24"`, []string{"ssh"}},
		{`destinations:"2001:db8::/32"`, []string{"v6web"}},
		{`destinations:"2001:db8::53"`, []string{"dns"}},
		{`destination_ports:"443"`, []string{"web", "v6web", "mgmt"}},
		{`destination_ports:443`, []string{"web", "v6web", "mgmt"}},
		{`destination_ports:"8000-9000"`, []string{"anon"}},
		{`source_ports:"1024-65535"`, []string{"v6web"}},
		{`sources:*`, all("dns", "icmp")},
		{`NOT destinations:*`, []string{"ssh", "block", "icmp"}},
		{`destination_ports:*`, all("block", "icmp")},
		// Timestamps; a rule without expiry compares false, under NOT too.
		{`expires_at:*`, []string{"anon", "mgmt"}},
		{`NOT expires_at:*`, all("anon", "mgmt")},
		{`expires_at > "2025-01-01T00:00:00Z"`, []string{"anon"}},
		{`NOT expires_at < "2025-01-01T00:00:00Z"`, all("mgmt")},
		{`created_at > "` + at("ssh") + `"`, all("web", "ssh")},
		{`created_at <= "` + at("ssh") + `"`, []string{"web", "ssh"}},
		{`updated_at >= "2025-01-01T00:00:00+01:00"`, all()},
		{`id = "` + rules["web"].ID + `"`, []string{"web"}},
		// Network functions, IPv4.
		{`source_contains("10.1.2.3")`, []string{"web", "ssh", "dns", "block", "icmp", "anon"}},
		{`source_contains("10.1.3.1")`, []string{"web", "dns", "icmp", "anon"}},
		{`source_contains("192.168.1.1")`, []string{"dns", "icmp", "anon"}},
		{`destination_contains("10.1.2.3")`, []string{"ssh", "block", "icmp", "anon", "legacy"}},
		{`destination_contains("192.0.2.0/24")`, []string{"ssh", "block", "icmp"}},
		{`destination_contains("10.1.2.0/24")`, []string{"ssh", "block", "icmp", "anon", "legacy"}},
		{`source_overlaps("10.0.0.0/16")`, []string{"web", "dns", "icmp", "anon"}},
		{`source_overlaps("10.1.0.0/16")`, []string{"web", "ssh", "dns", "block", "icmp", "anon"}},
		{`destination_overlaps("10.1.2.128/25")`, []string{"ssh", "block", "icmp", "anon", "legacy"}},
		// Network functions, IPv6: families never match across.
		{`source_contains("2001:db8:1::5")`, []string{"dns", "v6web", "icmp", "mgmt"}},
		{`source_contains("2001:db8:2::5")`, []string{"dns", "icmp", "mgmt"}},
		{`destination_contains("2001:db8::1")`, []string{"ssh", "v6web", "block", "icmp"}},
		{`destination_contains("2001:db8:abcd::1")`, []string{"ssh", "v6web", "block", "icmp", "mgmt"}},
		{`source_overlaps("2001:db8::/32")`, []string{"dns", "v6web", "icmp", "mgmt"}},
		{`NOT source_contains("::1")`, []string{"web", "ssh", "v6web", "block", "anon", "legacy"}},
		// Ports.
		{`destination_port_contains(443)`, []string{"web", "v6web", "block", "icmp", "mgmt", "legacy"}},
		{`destination_port_contains(8080)`, []string{"block", "icmp", "anon"}},
		{`source_port_contains(53)`, all("v6web")},
		// Combinations: which rules touch 10.1.2.3 on port 443?
		{`source_contains("10.1.2.3") AND destination_port_contains(443)`, []string{"web", "block", "icmp"}},
		{`source_contains("10.1.2.3") AND destination_port_contains(443) AND protocol = "tcp"`, []string{"web"}},
		{`(action = "allow" OR action = "reject") AND destination_port_contains(22)`, []string{"ssh", "icmp", "mgmt"}},
		{`(name = "web" OR name = "ssh") AND NOT sources:"10.0.0.0/8"`, []string{"ssh"}},
		{`enabled AND (destination_contains("10.9.9.9") OR source_contains("2001:db8:1::1")) AND NOT action = "reject"`,
			[]string{"ssh", "dns", "v6web", "block", "mgmt"}},
	}
}

// filterRules runs the rules table, each expression walked in pages of 3
// so that paging under a filter is exercised too.
func filterRules(t *testing.T, f *fixture) {
	fw, p, rules := f.filterRuleFixture()
	keyOf := map[string]string{}
	for k, r := range rules {
		keyOf[r.ID] = k
	}
	rows := filterRuleRows(rules)
	if len(rows) < 60 {
		t.Fatalf("the table has %d rows; the contract promises at least 60", len(rows))
	}
	for _, row := range rows {
		t.Run(row.expr, func(t *testing.T) {
			got := walk(t, 3, func(q firewall.Query) (firewall.Page[firewall.Rule], error) {
				q.Filter = row.expr
				return f.s.ListRules(f.ctx, fw.ID, p.ID, q)
			}, func(r firewall.Rule) string { return keyOf[r.ID] })
			wantSet(t, got, row.want, filterRuleSpecOrder)
		})
	}
}

// filterRuleSpecOrder is the default (position) order of the rule keys.
func filterRuleSpecOrder(key string) int {
	return slices.IndexFunc(filterRuleSpecs, func(s ruleSpec) bool { return s.key == key })
}

// wantSet fails unless got holds exactly want, in the order rank gives.
func wantSet(t *testing.T, got, want []string, rank func(string) int) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b string) int { return cmp.Compare(rank(a), rank(b)) })
	if len(got) == 0 && len(want) == 0 {
		return
	}
	wantEqual(t, "selected items", got, want)
}

func filterFirewalls(t *testing.T, f *fixture) {
	specs := []struct {
		name   string
		labels map[string]string
		action firewall.Action
	}{
		{"core-prod", map[string]string{"env": "prod", "tier": "core"}, firewall.Deny},
		{"edge-lon1", map[string]string{"env": "staging", "site": "lon1"}, firewall.Allow},
		{"edge-par1", map[string]string{"env": "prod", "site": "par1", "example.com/owner": "net-team"}, firewall.Deny},
		{"Lab", map[string]string{}, firewall.Deny}, // last: names order ignoring case
	}
	byID := map[string]string{}
	for _, s := range specs {
		fw := f.newFirewall(s.name)
		fw.Labels, fw.DefaultAction = s.labels, s.action
		f.update(func(tx store.Tx) error { return tx.CreateFirewall(f.ctx, &fw) })
		byID[fw.ID] = s.name
		if s.name == "core-prod" {
			for range 2 {
				f.update(func(tx store.Tx) error { _, err := tx.BumpRevision(f.ctx, fw.ID, f.etag(), f.now()); return err })
			}
		}
	}
	rows := []filterRow{
		{`labels.env = "prod"`, []string{"core-prod", "edge-par1"}},
		{`labels.env != "prod"`, []string{"Lab", "edge-lon1"}},
		{`labels:"tier"`, []string{"core-prod"}},
		{`labels:tier`, []string{"core-prod"}},
		{`labels.site = "par*"`, []string{"edge-par1"}},
		{`labels.env:"rod"`, []string{"core-prod", "edge-par1"}},
		{`name = "edge-*" AND labels.env = "prod"`, []string{"edge-par1"}},
		{`labels.env:*`, []string{"core-prod", "edge-lon1", "edge-par1"}},
		{`labels:*`, []string{"core-prod", "edge-lon1", "edge-par1"}},
		{`labels:"example.com/owner"`, []string{"edge-par1"}},
		{`labels:"no such key' OR 1=1 --"`, nil},
		{`NOT labels:"env"`, []string{"Lab"}},
		{`default_action = "allow"`, []string{"edge-lon1"}},
		{`revision > 1`, []string{"core-prod"}},
		{`name = "*-prod" OR name = "Lab"`, []string{"Lab", "core-prod"}},
	}
	rank := func(name string) int {
		return slices.IndexFunc(specs, func(s struct {
			name   string
			labels map[string]string
			action firewall.Action
		}) bool {
			return s.name == name
		})
	}
	for _, row := range rows {
		t.Run(row.expr, func(t *testing.T) {
			got := walk(t, 2, func(q firewall.Query) (firewall.Page[firewall.Firewall], error) {
				q.Filter = row.expr
				return f.s.ListFirewalls(f.ctx, q)
			}, func(fw firewall.Firewall) string { return byID[fw.ID] })
			wantSet(t, got, row.want, rank)
		})
	}
}

func filterPolicies(t *testing.T, f *fixture) {
	fw := f.firewall("edge")
	byID := map[string]string{}
	for _, s := range []struct {
		name    string
		prio    int
		action  firewall.Action
		enabled bool
	}{{"baseline", 10, firewall.Next, true}, {"web", 20, firewall.Deny, true}, {"legacy", 30, firewall.Allow, false}} {
		p := f.newPolicy(fw.ID, s.name, s.prio)
		p.DefaultAction, p.Enabled = s.action, s.enabled
		f.update(func(tx store.Tx) error { return tx.CreatePolicy(f.ctx, &p) })
		byID[p.ID] = s.name
	}
	order := []string{"baseline", "web", "legacy"}
	rows := []filterRow{
		{`enabled = false`, []string{"legacy"}},
		{`priority >= 20`, []string{"web", "legacy"}},
		{`default_action = "next"`, []string{"baseline"}},
		{`enabled AND default_action != "next"`, []string{"web"}},
		{`name = "*e*" AND priority < 30`, []string{"baseline", "web"}},
	}
	for _, row := range rows {
		t.Run(row.expr, func(t *testing.T) {
			got := walk(t, 1, func(q firewall.Query) (firewall.Page[firewall.Policy], error) {
				q.Filter = row.expr
				return f.s.ListPolicies(f.ctx, fw.ID, q)
			}, func(p firewall.Policy) string { return byID[p.ID] })
			wantSet(t, got, row.want, func(s string) int { return slices.Index(order, s) })
		})
	}
}

func filterAudit(t *testing.T, f *fixture) {
	evs := map[string]firewall.AuditEvent{}
	for _, s := range []struct {
		key, who string
		roles    []string
		action   firewall.AuditAction
		kind     string
	}{
		{"a1", "alice", []string{"editor"}, firewall.AuditCreate, firewall.KindFirewall},
		{"a2", "bob", []string{"admin"}, firewall.AuditUpdate, firewall.KindRule},
		{"a3", "alice", []string{"editor"}, firewall.AuditDelete, firewall.KindRule},
		{"a4", "carol", []string{"editor", "admin"}, firewall.AuditMove, firewall.KindRule},
	} {
		ev := f.auditEvent(s.action, "", "")
		ev.ActorSubject, ev.ActorRoles, ev.ResourceType = s.who, s.roles, s.kind
		f.appendEvents(ev)
		evs[s.key] = ev
	}
	keyOf := map[string]string{}
	for k, ev := range evs {
		keyOf[ev.ID] = k
	}
	rows := []filterRow{
		{`actor_subject = "alice"`, []string{"a1", "a3"}},
		{`action = "delete" OR action = "move"`, []string{"a3", "a4"}},
		{`resource_type = "rule" AND actor_roles:"admin"`, []string{"a2", "a4"}},
		{`occurred_at > "` + evs["a2"].OccurredAt.Format(time.RFC3339Nano) + `"`, []string{"a3", "a4"}},
		{`actor_roles:*`, []string{"a1", "a2", "a3", "a4"}},
	}
	for _, row := range rows {
		t.Run(row.expr, func(t *testing.T) {
			got := walk(t, 1, func(q firewall.Query) (firewall.Page[firewall.AuditEvent], error) {
				q.Filter = row.expr
				return f.s.ListAuditEvents(f.ctx, q)
			}, func(ev firewall.AuditEvent) string { return keyOf[ev.ID] })
			// Newest first: a4 before a1.
			wantSet(t, got, row.want, func(k string) int { return -int(k[1]) })
		})
	}
}

func filterInvalid(t *testing.T, f *fixture) {
	fw, p, _ := f.tree("edge", 1)
	tests := []struct{ filter, orderBy, msg string }{
		{`nme = "x"`, "", `unknown field "nme"`},
		{`name = `, "", "ends too early"},
		{`position = "one"`, "", "integer"},
		{`action = "drop"`, "", "allow, deny, reject"},
		{`enabled = 1`, "", "true or false"},
		{`created_at > "yesterday"`, "", "RFC 3339"},
		{`sources:"10.0.0.1/8"`, "", "host bits"},
		{`source_contains("not an ip")`, "", "not an IPv4"},
		{`destination_port_contains(70000)`, "", "1 to 65535"},
		{`name = "web\u0000"`, "", "NUL"},
		{`description = "x\x00*"`, "", "NUL"},
		{`labels.env = "prod"`, "", `unknown field "labels.env"`},
		{`(action = "deny"`, "", "character 17"},
		{strings.Repeat(`name = "x" OR `, 200) + `name = "y"`, "", "at most 2048"},
		{"", "nme", `cannot order rules by "nme"`},
		{"", "position; DROP TABLE rules", "character 9"},
		{"", "position sideways", "asc or desc"},
		{"", "position, position", "named twice"},
		{"", "sources", `cannot order rules by "sources"`},
	}
	for _, tc := range tests {
		t.Run(tc.filter+"|"+tc.orderBy, func(t *testing.T) {
			_, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{Filter: tc.filter, OrderBy: tc.orderBy})
			fe := domainError(t, err, firewall.CodeInvalid)
			if len(fe.Problems) != 1 || !strings.Contains(fe.Problems[0].Message, tc.msg) {
				t.Fatalf("got problems %+v, want one containing %q", fe.Problems, tc.msg)
			}
			if want := map[bool]string{true: "filter", false: "order_by"}[tc.orderBy == ""]; fe.Problems[0].Location != want {
				t.Fatalf("problem at %q, want %q", fe.Problems[0].Location, want)
			}
		})
	}
}

// filterOrderPaging walks orders with mixed directions, in several page
// sizes, and compares with the same order computed here.
func filterOrderPaging(t *testing.T, f *fixture) {
	fw, p, rules := f.filterRuleFixture()
	keyOf := map[string]string{}
	var list []firewall.Rule
	for k, r := range rules {
		keyOf[r.ID] = k
		list = append(list, r)
	}
	byID := func(a, b firewall.Rule) int { return cmp.Compare(a.ID, b.ID) }
	tests := []struct {
		orderBy, filter string
		less            func(a, b firewall.Rule) int
	}{
		{"action, name desc", "", func(a, b firewall.Rule) int {
			return cmp.Or(cmp.Compare(a.Action, b.Action), -cmp.Compare(firewall.NameKey(a.Name), firewall.NameKey(b.Name)), byID(a, b))
		}},
		{"position desc", "enabled", func(a, b firewall.Rule) int { return -cmp.Compare(a.Position, b.Position) }},
		{"protocol desc, enabled, created_at desc", "", func(a, b firewall.Rule) int {
			return cmp.Or(-cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(fmt.Sprint(a.Enabled), fmt.Sprint(b.Enabled)), -a.CreatedAt.Compare(b.CreatedAt), byID(a, b))
		}},
		{"name", `destination_port_contains(443)`, func(a, b firewall.Rule) int {
			return cmp.Or(cmp.Compare(firewall.NameKey(a.Name), firewall.NameKey(b.Name)), byID(a, b))
		}},
		{"updated_at desc , id desc", "", func(a, b firewall.Rule) int { return -cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), byID(a, b)) }},
	}
	for _, tc := range tests {
		t.Run(tc.orderBy, func(t *testing.T) {
			var want []string
			for _, r := range slices.SortedFunc(slices.Values(list), tc.less) {
				if tc.filter == "" || (tc.filter == "enabled" && r.Enabled) || (strings.HasPrefix(tc.filter, "destination") && portAny(r, 443)) {
					want = append(want, keyOf[r.ID])
				}
			}
			for _, size := range []int{1, 2, 4, 100} {
				got := walk(t, size, func(q firewall.Query) (firewall.Page[firewall.Rule], error) {
					q.Filter, q.OrderBy = tc.filter, tc.orderBy
					return f.s.ListRules(f.ctx, fw.ID, p.ID, q)
				}, func(r firewall.Rule) string { return keyOf[r.ID] })
				wantEqual(t, fmt.Sprintf("order at page size %d", size), got, want)
			}
		})
	}
}

// portAny reports whether the rule's destination ports are any or contain port.
func portAny(r firewall.Rule, port uint16) bool {
	if len(r.DestinationPorts) == 0 {
		return true
	}
	return slices.ContainsFunc(r.DestinationPorts, func(pr firewall.PortRange) bool { return pr.Contains(port) })
}

func filterTokenBinding(t *testing.T, f *fixture) {
	fw, p, _ := f.filterRuleFixture()
	first, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{PageSize: 2, Filter: `enabled`, OrderBy: "name"})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page: %v, token %q", err, first.NextPageToken)
	}
	for _, q := range []firewall.Query{
		{Filter: `NOT enabled`, OrderBy: "name"},
		{Filter: `enabled`, OrderBy: "name desc"},
		{Filter: `enabled`},
		{OrderBy: "name"},
	} {
		q.PageSize, q.PageToken = 2, first.NextPageToken
		_, err := f.s.ListRules(f.ctx, fw.ID, p.ID, q)
		wantCode(t, err, firewall.CodeInvalid)
	}
	// The same filter and order, spelled with other blanks, continue.
	if _, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{PageSize: 2, Filter: ` enabled `, OrderBy: "name asc", PageToken: first.NextPageToken}); err != nil {
		t.Fatalf("same filter and order: %v", err)
	}
	// A token of another collection is refused too.
	_, err = f.s.ListFirewalls(f.ctx, firewall.Query{PageToken: first.NextPageToken, Filter: `enabled`, OrderBy: "name"})
	wantCode(t, err, firewall.CodeInvalid)
}

// filterIndexFollowsWrites checks that updates and deletes keep the
// address and port index in step with the rule.
func filterIndexFollowsWrites(t *testing.T, f *fixture) {
	fw, p, rules := f.filterRuleFixture()
	count := func(expr string) int {
		t.Helper()
		page, err := f.s.ListRules(f.ctx, fw.ID, p.ID, firewall.Query{PageSize: firewall.MaxPageSize, Filter: expr})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	web := rules["web"]
	web.Sources = prefixes(t, "192.168.0.0/16")
	web.DestinationPorts = ports(t, "8443")
	f.update(func(tx store.Tx) error { return tx.UpdateRule(f.ctx, &web) })
	for expr, want := range map[string]int{
		`sources:"10.0.0.0/8"`: 0, `sources:"192.168.0.0/16"`: 1, `destination_ports:443`: 2, `destination_ports:8443`: 1,
	} {
		if got := count(expr); got != want {
			t.Errorf("after update, %s selects %d rules, want %d", expr, got, want)
		}
	}
	f.update(func(tx store.Tx) error { return tx.DeleteRule(f.ctx, fw.ID, p.ID, web.ID) })
	if got := count(`sources:"192.168.0.0/16"`); got != 0 {
		t.Errorf("after delete, the deleted rule's source still selects %d rules", got)
	}
}
