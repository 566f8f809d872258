package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// nftSet is a named set of an nft -j document the tests build.
type nftSet struct {
	name, typ string
	elems     []string // addresses or CIDRs
}

// nftJSON writes `nft -j list ruleset` output: one inet table t with the
// sets and a forward base chain whose rules are given as expr lists.
func nftJSON(t *testing.T, policy string, sets []nftSet, rules ...[]any) string {
	t.Helper()
	objs := []any{
		map[string]any{"metainfo": map[string]any{"version": "1.0.6", "json_schema_version": 1}},
		map[string]any{"table": map[string]any{"family": "inet", "name": "t", "handle": 1}},
	}
	for i, s := range sets {
		elems := make([]any, len(s.elems))
		for j, e := range s.elems {
			if addr, bits, ok := strings.Cut(e, "/"); ok {
				var n int
				fmt.Sscan(bits, &n)
				elems[j] = map[string]any{"prefix": map[string]any{"addr": addr, "len": n}}
			} else {
				elems[j] = e
			}
		}
		objs = append(objs, map[string]any{"set": map[string]any{"family": "inet", "table": "t", "name": s.name, "type": s.typ,
			"handle": 10 + i, "flags": []string{"interval"}, "elem": elems}})
	}
	objs = append(objs, map[string]any{"chain": map[string]any{"family": "inet", "table": "t", "name": "forward", "handle": 1,
		"type": "filter", "hook": "forward", "prio": 0, "policy": policy}})
	for i, expr := range rules {
		objs = append(objs, map[string]any{"rule": map[string]any{"family": "inet", "table": "t", "chain": "forward", "handle": 100 + i, "expr": expr}})
	}
	b, err := json.Marshal(map[string]any{"nftables": objs})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// nftMatch is a match expression `<proto> <field> == right`.
func nftMatch(proto, field string, right any) any {
	return map[string]any{"match": map[string]any{"op": "==", "left": map[string]any{"payload": map[string]any{"protocol": proto, "field": field}}, "right": right}}
}

var nftAccept, nftDrop = map[string]any{"accept": nil}, map[string]any{"drop": nil}

// TestImportCreatesGroups runs on both stores: an nftables import turns
// named sets into address groups in its own transaction, reuses a group of
// the same name and members, refuses (409, naming the group, writing
// nothing) one with other members unless groups=reuse|rename|inline says
// otherwise, and the imported rules decide through the groups.
func TestImportCreatesGroups(t *testing.T) {
	for _, st := range []struct {
		name string
		open func(*testing.T) *testServer
	}{{"sqlite", newTestServer}, {"postgres", newPostgresTestServer}} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testImportCreatesGroups(t, st.open(t))
		})
	}
}

func testImportCreatesGroups(t *testing.T, s *testServer) {
	const ag = "/api/v1/address-groups"
	sets := []nftSet{{"web", "ipv4_addr", []string{"10.1.0.0/24", "10.1.2.0/24"}}, {"dns6", "ipv6_addr", []string{"2001:db8::53"}}}
	body := nftJSON(t, "drop", sets,
		[]any{nftMatch("ip", "saddr", "@web"), nftMatch("tcp", "dport", 443), nftAccept},
		[]any{nftMatch("ip6", "daddr", "@dns6"), nftMatch("udp", "dport", 53), nftAccept},
		[]any{nftMatch("ip", "daddr", "@web"), nftDrop},
		[]any{nftMatch("ip", "saddr", map[string]any{"prefix": map[string]any{"addr": "10.0.0.0", "len": 8}}), nftAccept},
	)
	groupCount := func() int {
		t.Helper()
		return len(s.must(http.StatusOK, "GET", ag+"?page_size=100", nil)["items"].([]any))
	}
	groupsOf := func(out map[string]any) map[string]map[string]any {
		t.Helper()
		m := map[string]map[string]any{}
		for _, g := range out["groups"].([]any) {
			g := g.(map[string]any)
			m[g["set"].(string)] = g
		}
		return m
	}
	decide := func(fwID, proto, src, dst string, dport int) string {
		t.Helper()
		return s.must(http.StatusOK, "POST", "/api/v1/firewalls/"+fwID+"/evaluate",
			map[string]any{"flow": flowBody(proto, src, dst, 40000, dport)})["decision"].(map[string]any)["action"].(string)
	}

	// A dry run lists the groups it would create, and writes none.
	fw1 := s.newFirewall("imp-1")
	dry := s.must(http.StatusOK, "POST", importURL(fw1, "format=nftables"), body)
	g := groupsOf(dry)
	if len(g) != 2 || g["web"]["action"] != "create" || g["web"]["id"] != nil || fmt.Sprint(g["web"]["addresses"]) != "[10.1.0.0/24 10.1.2.0/24]" || g["dns6"]["action"] != "create" {
		t.Fatalf("dry run groups: %v", dry["groups"])
	}
	rules := dry["policies"].([]any)[0].(map[string]any)["rules"].([]any)
	if got := fmt.Sprint(rules[0].(map[string]any)["source_groups"]); got != "[map[name:web]]" {
		t.Fatalf("dry run rule 1 source_groups = %s", got)
	}
	if n := groupCount(); n != 0 {
		t.Fatalf("a dry run created %d groups", n)
	}

	// The apply creates them, and the rules refer to them.
	applied := s.must(http.StatusOK, "POST", importURL(fw1, "format=nftables&apply=true"), body)
	g = groupsOf(applied)
	webID, _ := g["web"]["id"].(string)
	if webID == "" || g["dns6"]["id"] == nil || groupCount() != 2 {
		t.Fatalf("applied groups: %v", applied["groups"])
	}
	web := s.must(http.StatusOK, "GET", ag+"/"+webID, nil)
	if web["name"] != "web" || fmt.Sprint(web["addresses"]) != "[10.1.0.0/24 10.1.2.0/24]" || !strings.Contains(fmt.Sprint(web["description"]), "@web") {
		t.Fatalf("group web = %v", web)
	}
	usage := s.must(http.StatusOK, "GET", ag+"/"+webID+"/usage", nil)
	if n := len(usage["rules"].([]any)); n != 2 {
		t.Fatalf("web is used by %d rules, want 2: %v", n, usage)
	}
	checkDecisions := func(fwID string) {
		t.Helper()
		for _, c := range []struct {
			proto, src, dst string
			port            int
			want            string
		}{
			{"tcp", "10.1.2.7", "198.51.100.1", 443, "allow"},
			{"tcp", "10.2.0.1", "10.1.2.9", 80, "deny"},  // daddr @web drop
			{"tcp", "10.2.0.1", "10.1.1.9", 80, "allow"}, // the 10/8 accept
			{"tcp", "10.2.0.1", "10.9.0.9", 80, "allow"},
			{"tcp", "192.0.2.1", "198.51.100.1", 443, "deny"}, // policy drop
			{"udp", "2001:db8::1", "2001:db8::53", 53, "allow"},
			{"udp", "2001:db8::1", "2001:db8::54", 53, "deny"},
		} {
			if got := decide(fwID, c.proto, c.src, c.dst, c.port); got != c.want {
				t.Errorf("firewall %s: %s %s → %s:%d = %s, want %s", fwID, c.proto, c.src, c.dst, c.port, got, c.want)
			}
		}
	}
	checkDecisions(fw1)

	// A second import of the same sets reuses the groups.
	fw2 := s.newFirewall("imp-2")
	again := s.must(http.StatusOK, "POST", importURL(fw2, "format=nftables&apply=true"), body)
	g = groupsOf(again)
	if g["web"]["action"] != "reuse" || g["web"]["id"] != webID || g["web"]["members_differ"] != nil || groupCount() != 2 {
		t.Fatalf("second import groups: %v", again["groups"])
	}
	checkDecisions(fw2)

	// A group of the same name with other members is a conflict, for the
	// dry run and the apply, and nothing is written.
	s.must(http.StatusOK, "PATCH", ag+"/"+webID, map[string]any{"addresses": []string{"10.9.0.0/24"}})
	fw3 := s.newFirewall("imp-3")
	rev := s.must(http.StatusOK, "GET", "/api/v1/firewalls/"+fw3, nil)["revision"]
	events := len(s.auditLog())
	for _, q := range []string{"format=nftables", "format=nftables&apply=true", "format=nftables&apply=true&groups=fail"} {
		res := s.do("POST", importURL(fw3, q), body)
		assertProblem(t, res, http.StatusConflict, "query.groups", `address group "web"`)
		if !strings.Contains(string(res.Body), "groups=rename") || !strings.Contains(string(res.Body), "10.1.0.0/24") {
			t.Errorf("%s: the conflict does not say what to do or what the set holds: %s", q, res.Body)
		}
	}
	assertNothingWritten := func(wantGroups int) {
		t.Helper()
		if n := groupCount(); n != wantGroups {
			t.Errorf("%d groups after a refused import, want %d", n, wantGroups)
		}
		if items := s.must(http.StatusOK, "GET", "/api/v1/firewalls/"+fw3+"/filtering-policies", nil)["items"].([]any); len(items) != 0 {
			t.Errorf("a refused import created policies: %v", items)
		}
		if got := s.must(http.StatusOK, "GET", "/api/v1/firewalls/"+fw3, nil)["revision"]; got != rev {
			t.Errorf("revision %v after a refused import, want %v", got, rev)
		}
		if n := len(s.auditLog()); n != events {
			t.Errorf("%d audit events after a refused import, want %d", n, events)
		}
	}
	assertNothingWritten(2)

	// A refusal inside the transaction, after a group was created: a set
	// named as another group's id hides (from the lookup by id or name)
	// the group that has that name, so the create of the second group
	// clashes in the store. The whole import rolls back.
	other := s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "other", "addresses": []string{"192.0.2.0/24"}})
	otherID := other["id"].(string)
	s.must(http.StatusCreated, "POST", ag, map[string]any{"name": otherID, "addresses": []string{"198.51.100.0/24"}})
	events = len(s.auditLog())
	clashing := nftJSON(t, "drop", []nftSet{{"fresh", "ipv4_addr", []string{"203.0.113.0/24"}}, {otherID, "ipv4_addr", []string{"203.0.114.0/24"}}},
		[]any{nftMatch("ip", "saddr", "@fresh"), nftAccept},
		[]any{nftMatch("ip", "saddr", "@"+otherID), nftAccept})
	res := s.do("POST", importURL(fw3, "format=nftables&apply=true"), clashing)
	assertProblem(t, res, http.StatusConflict, "query.groups", "already exists")
	if list := s.must(http.StatusOK, "GET", ag+"?page_size=100", nil)["items"].([]any); len(list) != 4 || strings.Contains(fmt.Sprint(list), "fresh") {
		t.Fatalf("the rolled-back import left groups: %v", list)
	}
	assertNothingWritten(4) // web, dns6 and the two made for this case

	// rename creates the set as web-2 and reuses dns6; the firewall decides
	// by the set's members.
	renamed := s.must(http.StatusOK, "POST", importURL(fw3, "format=nftables&apply=true&groups=rename"), body)
	g = groupsOf(renamed)
	if g["web"]["action"] != "rename" || g["web"]["name"] != "web-2" || g["dns6"]["action"] != "reuse" {
		t.Fatalf("rename groups: %v", renamed["groups"])
	}
	checkDecisions(fw3)
	// A rename import of the same sets again reuses web-2.
	fw4 := s.newFirewall("imp-4")
	g = groupsOf(s.must(http.StatusOK, "POST", importURL(fw4, "format=nftables&groups=rename"), body))
	if g["web"]["action"] != "reuse" || g["web"]["name"] != "web-2" {
		t.Fatalf("second rename: %v", g)
	}

	// reuse refers to the changed group as it is, and says so.
	reused := s.must(http.StatusOK, "POST", importURL(fw4, "format=nftables&apply=true&groups=reuse"), body)
	g = groupsOf(reused)
	if g["web"]["action"] != "reuse" || g["web"]["id"] != webID || g["web"]["members_differ"] != true {
		t.Fatalf("reuse groups: %v", reused["groups"])
	}
	if got := decide(fw4, "tcp", "10.2.0.1", "10.9.0.9", 80); got != "deny" {
		t.Errorf("with the reused group 10.2.0.1 → 10.9.0.9:80 = %s, want deny (daddr @web)", got)
	}

	// inline makes no groups.
	fw5 := s.newFirewall("imp-5")
	before := groupCount()
	inlined := s.must(http.StatusOK, "POST", importURL(fw5, "format=nftables&apply=true&groups=inline"), body)
	if len(inlined["groups"].([]any)) != 0 || groupCount() != before {
		t.Fatalf("inline made groups: %v", inlined["groups"])
	}
	checkDecisions(fw5)

	assertProblem(t, s.do("POST", importURL(fw5, "format=nftables&groups=maybe"), body), http.StatusBadRequest, "query.groups", "")

	// An IPv4-mapped IPv6 address, which FireFlow could not read back once
	// stored, is refused before anything is written, in a rule or a set.
	fw6 := s.newFirewall("imp-6")
	for _, mapped := range []string{
		nftJSON(t, "drop", nil, []any{nftMatch("ip6", "saddr", "::ffff:10.0.0.1"), nftAccept}),
		nftJSON(t, "drop", []nftSet{{"m", "ipv6_addr", []string{"::ffff:10.0.0.1"}}}, []any{nftMatch("ip6", "saddr", "@m"), nftAccept}),
	} {
		assertProblem(t, s.do("POST", importURL(fw6, "format=nftables&apply=true"), mapped), http.StatusBadRequest, "body", "IPv4-mapped")
	}
	if items := s.must(http.StatusOK, "GET", "/api/v1/firewalls/"+fw6+"/filtering-policies", nil)["items"].([]any); len(items) != 0 {
		t.Errorf("a refused import created policies: %v", items)
	}

	// Group names are unique case-insensitively, nft set names are not:
	// two sets of one import whose names differ in case clash unless
	// their members are equal.
	cased := func(other string) string {
		return nftJSON(t, "drop", []nftSet{{"Case", "ipv4_addr", []string{"198.18.0.0/24"}}, {"case", "ipv4_addr", []string{other}}},
			[]any{nftMatch("ip", "saddr", "@Case"), nftAccept},
			[]any{nftMatch("ip", "daddr", "@case"), nftAccept})
	}
	assertProblem(t, s.do("POST", importURL(fw6, "format=nftables"), cased("198.18.1.0/24")), http.StatusConflict, "query.groups", "another set of the import")
	g = groupsOf(s.must(http.StatusOK, "POST", importURL(fw6, "format=nftables&groups=rename"), cased("198.18.1.0/24")))
	if g["Case"]["action"] != "create" || g["case"]["action"] != "rename" || g["case"]["name"] != "case-2" {
		t.Fatalf("rename of sets differing in case: %v", g)
	}
	applied = s.must(http.StatusOK, "POST", importURL(fw6, "format=nftables&apply=true"), cased("198.18.0.0/24"))
	g = groupsOf(applied)
	if g["case"]["action"] != "reuse" || g["case"]["id"] == nil || g["case"]["id"] != g["Case"]["id"] {
		t.Fatalf("sets differing in case with equal members must share one group: %v", applied["groups"])
	}
	if got := decide(fw6, "tcp", "192.0.2.1", "198.18.0.7", 80); got != "allow" {
		t.Errorf("through the shared group: %s, want allow", got)
	}
}
