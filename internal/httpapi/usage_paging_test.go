package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestGroupUsagePaging pages the usage of an address group and a service
// group over several pages on both stores: every use comes once, in the
// documented order (firewall, policy, rule, field, place), the nesting
// groups come on the first page only, and bad tokens answer 400.
func TestGroupUsagePaging(t *testing.T) {
	for _, st := range []struct {
		name string
		open func(*testing.T) *testServer
	}{{"sqlite", newTestServer}, {"postgres", newPostgresTestServer}} {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			testGroupUsagePaging(t, st.open(t))
		})
	}
}

func testGroupUsagePaging(t *testing.T, s *testServer) {
	const ag, sg = "/api/v1/address-groups", "/api/v1/service-groups"
	shared := s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "shared", "addresses": []string{"10.0.0.0/24"}})["id"].(string)
	outer := s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "outer", "groups": []string{"shared"}})["id"].(string)
	s.must(http.StatusCreated, "POST", ag, map[string]any{"name": "Alpha", "groups": []string{"outer"}})
	svc := s.must(http.StatusCreated, "POST", sg, map[string]any{"name": "web", "services": []map[string]any{{"protocol": "tcp", "ports": []string{"80"}}}})["id"].(string)

	// want lists "rule field via" for each use, in no particular order.
	var want, wantSvc []string
	for i := range 3 {
		tr := s.newTree(fmt.Sprintf("fw-%d", i))
		for j := range 4 {
			body := map[string]any{"action": "allow", "service_groups": []string{"web"}}
			switch j % 3 {
			case 0:
				body["source_groups"] = []string{"shared"}
				body["destination_groups"] = []string{"outer", "shared"}
			case 1:
				body["destination_groups"] = []string{"outer"}
			case 2:
				body["source_groups"] = []string{"Alpha"}
			}
			id := s.newRule(tr, body)
			wantSvc = append(wantSvc, id+" service_groups web")
			switch j % 3 {
			case 0:
				want = append(want, id+" source_groups shared", id+" destination_groups outer", id+" destination_groups shared")
			case 1:
				want = append(want, id+" destination_groups outer")
			case 2:
				want = append(want, id+" source_groups Alpha")
			}
		}
	}

	collect := func(path string, size int, wantNesting string) []string {
		t.Helper()
		var got []string
		var keys []string
		token, pages := "", 0
		for {
			q := url.Values{"page_size": {fmt.Sprint(size)}}
			if token != "" {
				q.Set("page_token", token)
			}
			page := s.must(http.StatusOK, "GET", path+"?"+q.Encode(), nil)
			pages++
			groups := page["groups"].([]any)
			if pages == 1 && fmt.Sprint(usageGroupNames(groups)) != wantNesting || pages > 1 && len(groups) != 0 {
				t.Fatalf("page %d of %s: groups %v, want %s on the first page only", pages, path, groups, wantNesting)
			}
			rules := page["rules"].([]any)
			if len(rules) > size {
				t.Fatalf("page %d holds %d rules, page_size %d", pages, len(rules), size)
			}
			fws := map[string]bool{}
			for _, f := range page["firewalls"].([]any) {
				fws[f.(map[string]any)["id"].(string)] = true
			}
			for _, r := range rules {
				r := r.(map[string]any)
				if !fws[r["firewall_id"].(string)] {
					t.Fatalf("page %d lists rule %v without its firewall in firewalls", pages, r)
				}
				got = append(got, fmt.Sprintf("%s %s %s", r["id"], r["field"], r["via"].(map[string]any)["name"]))
				keys = append(keys, fmt.Sprintf("%s/%s/%s/%d", r["firewall_id"], r["policy_id"], r["id"], fieldRank(r["field"].(string))))
			}
			token, _ = page["next_page_token"].(string)
			if token == "" {
				break
			}
			if pages > 100 {
				t.Fatal("the pages never end")
			}
		}
		if !slices.IsSorted(keys) {
			t.Fatalf("%s is not in firewall, policy, rule, field order: %v", path, keys)
		}
		if min := (len(got) + size - 1) / size; pages < min || pages > min+1 {
			t.Fatalf("%d uses over %d pages of %d", len(got), pages, size)
		}
		return got
	}
	sorted := func(x []string) []string { y := slices.Clone(x); slices.Sort(y); return y }
	for _, size := range []int{1, 4, 7, 1000} {
		got := collect(ag+"/"+shared+"/usage", size, "[Alpha outer]")
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Fatalf("page_size %d: uses of shared\n got %v\nwant %v", size, sorted(got), sorted(want))
		}
	}
	// Within a rule, a field's uses come in their place in the list.
	full := collect(ag+"/"+shared+"/usage", 1000, "[Alpha outer]")
	for i := 1; i < len(full); i++ {
		a, b := strings.Fields(full[i-1]), strings.Fields(full[i])
		if a[0] == b[0] && a[1] == b[1] && a[1] == "destination_groups" && !(a[2] == "outer" && b[2] == "shared") {
			t.Fatalf("destination uses out of place: %v then %v", a, b)
		}
	}
	if got := collect(ag+"/"+outer+"/usage", 5, "[Alpha]"); len(got) != 3*4 { // in each firewall three rules name outer, one names Alpha
		t.Fatalf("uses of outer: %v", got)
	}
	if got := collect(sg+"/"+svc+"/usage", 5, "[]"); !slices.Equal(sorted(got), sorted(wantSvc)) {
		t.Fatalf("uses of web\n got %v\nwant %v", sorted(got), sorted(wantSvc))
	}

	first := s.must(http.StatusOK, "GET", ag+"/"+shared+"/usage?page_size=2", nil)
	token := first["next_page_token"].(string)
	assertProblem(t, s.do("GET", ag+"/"+outer+"/usage?page_token="+url.QueryEscape(token), nil), http.StatusBadRequest, "query.page_token", "")
	assertProblem(t, s.do("GET", ag+"/"+shared+"/usage?page_token=garbage", nil), http.StatusBadRequest, "query.page_token", "")
	assertProblem(t, s.do("GET", ag+"/"+shared+"/usage?page_size=0", nil), http.StatusBadRequest, "query.page_size", "")
}

func usageGroupNames(refs []any) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, r.(map[string]any)["name"].(string))
	}
	return out
}

func fieldRank(f string) int {
	return map[string]int{"source_groups": 1, "destination_groups": 2, "service_groups": 3}[f]
}
