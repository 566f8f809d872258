package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRevisionsFilterAndOrder(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { revisionsFilterAndOrder(t, newTestServer(t)) })
	t.Run("postgres", func(t *testing.T) { revisionsFilterAndOrder(t, newPostgresTestServer(t)) })
}

// revisionsFilterAndOrder lists a firewall's revisions with filters and
// orders, a page of two at a time, and compares each listing with the same
// selection made in Go over the whole unfiltered listing.
func revisionsFilterAndOrder(t *testing.T, s *testServer) {
	tr := s.newTree("edge")
	_, requests := historyDocs(s, tr)
	list := func(t *testing.T, query string) []map[string]any {
		t.Helper()
		var out []map[string]any
		path := tr.firewall() + "/revisions?page_size=2" + query
		for range 50 {
			page := s.must(http.StatusOK, "GET", path, nil)
			for _, it := range page["items"].([]any) {
				out = append(out, it.(map[string]any))
			}
			next, _ := page["next_page_token"].(string)
			if next == "" {
				return out
			}
			path = tr.firewall() + "/revisions?page_size=2" + query + "&page_token=" + url.QueryEscape(next)
		}
		t.Fatal("paging did not end")
		return nil
	}
	all := list(t, "")
	rev := func(it map[string]any) int { return int(it["revision"].(float64)) }
	revs := func(items []map[string]any) []int {
		out := []int{}
		for _, it := range items {
			out = append(out, rev(it))
		}
		return out
	}
	if got := revs(all); !slices.IsSortedFunc(got, func(a, b int) int { return b - a }) || len(got) < 4 {
		t.Fatalf("the default listing is not newest first: %v", got)
	}
	pick := func(keep func(map[string]any) bool, asc bool) []int {
		out := []int{}
		for _, it := range all {
			if keep(it) {
				out = append(out, rev(it))
			}
		}
		if asc {
			slices.Reverse(out)
		}
		return out
	}
	third := all[len(all)-3]
	for _, c := range []struct {
		name, filter, order string
		want                []int
	}{
		{"OldestFirst", "", "revision asc", pick(func(map[string]any) bool { return true }, true)},
		{"ByTimeNewestFirst", "", "created_at desc", pick(func(map[string]any) bool { return true }, false)},
		{"ByRequest", `request_id = "` + requests[3] + `"`, "", []int{3}},
		{"ByActor", `actor = "test-admin" AND revision > 1`, "", pick(func(it map[string]any) bool { return rev(it) > 1 }, false)},
		{"NobodyElse", `actor != "test-admin"`, "", []int{}},
		{"RevisionRange", `revision >= 2 AND revision <= 4`, "revision", []int{2, 3, 4}},
		{"Created", `summary = "created rule*"`, "", pick(func(it map[string]any) bool {
			return strings.HasPrefix(it["summary"].(string), "created rule")
		}, false)},
		{"SinceATime", `created_at >= "` + third["created_at"].(string) + `"`, "revision", pick(func(it map[string]any) bool { return rev(it) >= rev(third) }, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := ""
			if c.filter != "" {
				q += "&filter=" + url.QueryEscape(c.filter)
			}
			if c.order != "" {
				q += "&order_by=" + url.QueryEscape(c.order)
			}
			if d := cmp.Diff(c.want, revs(list(t, q))); d != "" {
				t.Fatalf("filter %q order_by %q (-want +got):\n%s", c.filter, c.order, d)
			}
		})
	}
	t.Run("BadInput", func(t *testing.T) {
		page := s.must(http.StatusOK, "GET", tr.firewall()+"/revisions?page_size=1&order_by=actor", nil)
		other := url.QueryEscape(page["next_page_token"].(string))
		for _, c := range []struct{ name, query, location, msg string }{
			{"UnknownField", "filter=" + url.QueryEscape(`colour = "red"`), "query.filter", `unknown field "colour"`},
			{"RevisionNotANumber", "filter=" + url.QueryEscape(`revision = "two"`), "query.filter", "revision is an integer"},
			{"BadTime", "filter=" + url.QueryEscape(`created_at > "yesterday"`), "query.filter", "not an RFC 3339 time"},
			{"Unbalanced", "filter=" + url.QueryEscape(`(actor = "a"`), "query.filter", ""},
			{"OrderNotOrderable", "order_by=summary", "query.order_by", "cannot order revisions"},
			{"OrderBadDirection", "order_by=" + url.QueryEscape("revision sideways"), "query.order_by", ""},
			{"TokenOfAnotherOrder", "page_token=" + other, "query.page_token", ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				assertProblem(t, s.do("GET", fmt.Sprintf("%s/revisions?%s", tr.firewall(), c.query), nil), http.StatusBadRequest, c.location, c.msg)
			})
		}
	})
}
