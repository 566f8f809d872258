package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Helpers of the CRUD tests. Their names start with crud so that they do
// not clash with helpers of other test files in the package.

// crudUUIDv7 matches the ids the API hands out.
var crudUUIDv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// crudItems lists every item of a collection in one page.
func crudItems(s *testServer, collection string) []map[string]any {
	s.t.Helper()
	page := s.must(http.StatusOK, "GET", collection+"?page_size=1000", nil)
	if tok := page["next_page_token"]; tok != "" {
		s.t.Fatalf("GET %s: a page of 1000 has next_page_token %v", collection, tok)
	}
	var out []map[string]any
	for _, it := range page["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// crudIDs returns the ids of items, in order.
func crudIDs(items []map[string]any) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it["id"].(string)
	}
	return ids
}

// crudWith returns s bound to t, for use inside a subtest of the test
// that created s: failing through the parent's t from a subtest is not allowed.
func crudWith(s *testServer, t *testing.T) *testServer {
	c := *s
	c.t = t
	return &c
}

// crudFirewall reads the tree's firewall.
func crudFirewall(s *testServer, tr tree) map[string]any {
	s.t.Helper()
	return s.must(http.StatusOK, "GET", tr.firewall(), nil)
}

// crudNum turns a decoded JSON number into an int.
func crudNum(t *testing.T, v any) int {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v (%T) is not a JSON number", v, v)
	}
	return int(f)
}

// crudCheckFields fails unless every field of want is in got with an equal
// value, and no field named in absent is in got.
func crudCheckFields(t *testing.T, got, want map[string]any, absent ...string) {
	t.Helper()
	for k, w := range want {
		// Compare through JSON so that want may use Go ints and string slices.
		wb, _ := json.Marshal(w)
		var wv any
		_ = json.Unmarshal(wb, &wv)
		if diff := cmp.Diff(wv, got[k]); diff != "" {
			t.Errorf("field %q (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range absent {
		if v, ok := got[k]; ok {
			t.Errorf("field %q = %v, want it absent", k, v)
		}
	}
}

// crudCheckETag fails unless the ETag header is the body's etag, quoted.
func crudCheckETag(t *testing.T, res response) {
	t.Helper()
	body := res.JSON(t)
	etag, _ := body["etag"].(string)
	if etag == "" {
		t.Fatalf("body has no etag: %s", res.Body)
	}
	if got, want := res.Header.Get("ETag"), `"`+etag+`"`; got != want {
		t.Errorf("ETag header %q, want %q", got, want)
	}
}

// crudCollection describes one kind of resource for the tests that treat
// all three alike.
type crudCollection struct {
	kind       string
	collection func(tree) string
	create     map[string]any
	patch      map[string]any
}

var crudCollections = []crudCollection{
	{
		kind:       "firewall",
		collection: func(tree) string { return firewallsPath },
		create:     map[string]any{"name": "core", "description": "core firewall", "labels": map[string]any{"env": "prod"}},
		patch:      map[string]any{"description": "changed"},
	},
	{
		kind:       "filtering policy",
		collection: func(tr tree) string { return tr.policies() },
		create:     map[string]any{"name": "extra", "priority": 200, "default_action": "deny"},
		patch:      map[string]any{"description": "changed"},
	},
	{
		kind:       "rule",
		collection: func(tr tree) string { return tr.rules() },
		create:     map[string]any{"name": "ssh", "action": "deny", "protocol": "tcp", "destination_ports": []string{"22"}},
		patch:      map[string]any{"description": "changed"},
	},
}

// TestCRUDLifecycle creates, reads, lists, patches and deletes each kind of
// resource, checking statuses and headers at every step.
func TestCRUDLifecycle(t *testing.T) {
	for _, c := range crudCollections {
		t.Run(c.kind, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			coll := c.collection(tr)
			before := crudItems(s, coll)

			// Create: 201, Location, ETag.
			res := s.do("POST", coll, c.create)
			if res.Status != http.StatusCreated {
				t.Fatalf("create: status %d, want 201: %s", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("create: Content-Type %q, want application/json", ct)
			}
			created := res.JSON(t)
			id, _ := created["id"].(string)
			if !crudUUIDv7.MatchString(id) {
				t.Errorf("id %q is not a UUIDv7", id)
			}
			if got, want := res.Header.Get("Location"), coll+"/"+id; got != want {
				t.Errorf("Location %q, want %q", got, want)
			}
			crudCheckETag(t, res)
			if created["created_at"] != created["updated_at"] {
				t.Errorf("new resource: created_at %v differs from updated_at %v", created["created_at"], created["updated_at"])
			}
			if res.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("a create without Idempotency-Key has Idempotent-Replayed %q", res.Header.Get("Idempotent-Replayed"))
			}
			crudCheckFields(t, created, c.create)

			// Get through the Location: the same body and the ETag.
			got := s.do("GET", res.Header.Get("Location"), nil)
			if got.Status != http.StatusOK {
				t.Fatalf("get: status %d: %s", got.Status, got.Body)
			}
			crudCheckETag(t, got)
			if diff := cmp.Diff(created, got.JSON(t)); diff != "" {
				t.Errorf("GET differs from the create response (-create +get):\n%s", diff)
			}

			// List: one more item, and it is the created one.
			after := crudItems(s, coll)
			if len(after) != len(before)+1 {
				t.Fatalf("list has %d items after create, want %d", len(after), len(before)+1)
			}
			if !slices.Contains(crudIDs(after), id) {
				t.Errorf("list %v does not hold the created id %s", crudIDs(after), id)
			}

			// Patch: 200, a new etag, the change applied.
			pres := s.do("PATCH", coll+"/"+id, c.patch)
			if pres.Status != http.StatusOK {
				t.Fatalf("patch: status %d: %s", pres.Status, pres.Body)
			}
			crudCheckETag(t, pres)
			patched := pres.JSON(t)
			if patched["etag"] == created["etag"] {
				t.Errorf("patch kept the etag %v", created["etag"])
			}
			if patched["updated_at"].(string) < created["updated_at"].(string) {
				t.Errorf("updated_at went back from %v to %v", created["updated_at"], patched["updated_at"])
			}
			if patched["created_at"] != created["created_at"] || patched["id"] != id {
				t.Errorf("patch changed id or created_at: %v", patched)
			}
			crudCheckFields(t, patched, c.patch)
			crudCheckFields(t, s.must(http.StatusOK, "GET", coll+"/"+id, nil), c.patch)

			// Delete: 204 with no body, then 404 and gone from the list.
			dres := s.do("DELETE", coll+"/"+id, nil)
			if dres.Status != http.StatusNoContent || len(dres.Body) != 0 {
				t.Fatalf("delete: status %d body %q, want 204 and no body", dres.Status, dres.Body)
			}
			assertProblem(t, s.do("GET", coll+"/"+id, nil), http.StatusNotFound, "", "")
			assertProblem(t, s.do("DELETE", coll+"/"+id, nil), http.StatusNotFound, "", "")
			if ids := crudIDs(crudItems(s, coll)); slices.Contains(ids, id) || len(ids) != len(before) {
				t.Errorf("list after delete: %v", ids)
			}
		})
	}
}

// TestCRUDCreateDefaults checks the defaults and normalisations applied on create.
func TestCRUDCreateDefaults(t *testing.T) {
	tests := []struct {
		name       string
		collection func(tree) string
		body       map[string]any
		want       map[string]any
		absent     []string
	}{
		{
			name:       "firewall minimal",
			collection: func(tree) string { return firewallsPath },
			body:       map[string]any{"name": "Core-1"},
			want: map[string]any{"name": "Core-1", "description": "", "labels": map[string]any{},
				"default_action": "deny", "revision": 1},
		},
		{
			name:       "firewall full",
			collection: func(tree) string { return firewallsPath },
			body: map[string]any{"name": "core", "description": "Ünïcode ✓", "default_action": "allow",
				"labels": map[string]any{"env": "prod", "example.com/site": "par1", "empty": ""}},
			want: map[string]any{"name": "core", "description": "Ünïcode ✓", "default_action": "allow",
				"labels": map[string]any{"env": "prod", "example.com/site": "par1", "empty": ""}, "revision": 1},
		},
		{
			name:       "policy minimal",
			collection: func(tr tree) string { return tr.policies() },
			body:       map[string]any{"name": "first", "priority": 0},
			want: map[string]any{"name": "first", "description": "", "priority": 0,
				"default_action": "next", "enabled": true},
		},
		{
			name:       "policy full",
			collection: func(tr tree) string { return tr.policies() },
			body: map[string]any{"name": "last", "description": "d", "priority": 65535,
				"default_action": "allow", "enabled": false},
			want: map[string]any{"name": "last", "description": "d", "priority": 65535,
				"default_action": "allow", "enabled": false},
		},
		{
			name:       "rule minimal",
			collection: func(tr tree) string { return tr.rules() },
			body:       map[string]any{"action": "reject"},
			want: map[string]any{"name": "", "description": "", "position": 1, "action": "reject", "protocol": "any",
				"sources": []string{}, "destinations": []string{}, "source_ports": []string{},
				"destination_ports": []string{}, "enabled": true},
			absent: []string{"expires_at"},
		},
		{
			name:       "rule full with normalisation",
			collection: func(tr tree) string { return tr.rules() },
			body: map[string]any{"name": "web", "description": "https", "action": "allow", "protocol": "tcp",
				"sources":      []string{"10.0.0.0/8", "192.0.2.10", "2001:db8::1", "2001:db8::/32"},
				"destinations": []string{"0.0.0.0/0", "::/0"},
				"source_ports": []string{"1024-65535"}, "destination_ports": []string{"443", "8443-8444", "1-65535"},
				"enabled": false, "expires_at": "2030-01-01T02:00:00+02:00"},
			want: map[string]any{"name": "web", "description": "https", "position": 1, "action": "allow", "protocol": "tcp",
				"sources":      []string{"10.0.0.0/8", "192.0.2.10/32", "2001:db8::1/128", "2001:db8::/32"},
				"destinations": []string{"0.0.0.0/0", "::/0"},
				"source_ports": []string{"1024-65535"}, "destination_ports": []string{"443", "8443-8444", "1-65535"},
				"enabled": false, "expires_at": "2030-01-01T00:00:00Z"},
		},
		{
			name:       "rule udp and icmpv6",
			collection: func(tr tree) string { return tr.rules() },
			body:       map[string]any{"action": "deny", "protocol": "icmpv6", "destinations": []string{"fe80::/10"}},
			want:       map[string]any{"action": "deny", "protocol": "icmpv6", "destinations": []string{"fe80::/10"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			created := s.must(http.StatusCreated, "POST", tt.collection(tr), tt.body)
			crudCheckFields(t, created, tt.want, tt.absent...)
			got := s.must(http.StatusOK, "GET", tt.collection(tr)+"/"+created["id"].(string), nil)
			if diff := cmp.Diff(created, got); diff != "" {
				t.Errorf("GET differs from the create response (-create +get):\n%s", diff)
			}
		})
	}
}

// crudPatchStep is one merge patch and the resource expected after it.
type crudPatchStep struct {
	patch  string
	want   map[string]any
	absent []string
}

// TestCRUDMergePatch checks RFC 7386 semantics: omitted fields stay, null
// resets to the default, labels merge key by key, lists are replaced whole.
func TestCRUDMergePatch(t *testing.T) {
	tests := []struct {
		name       string
		collection func(tree) string
		create     map[string]any
		steps      []crudPatchStep
	}{
		{
			name:       "firewall",
			collection: func(tree) string { return firewallsPath },
			create: map[string]any{"name": "core", "description": "d", "default_action": "allow",
				"labels": map[string]any{"env": "prod", "site": "par1"}},
			steps: []crudPatchStep{
				{`{}`, map[string]any{"name": "core", "description": "d", "default_action": "allow",
					"labels": map[string]any{"env": "prod", "site": "par1"}}, nil},
				{`{"description":"new"}`, map[string]any{"name": "core", "description": "new", "default_action": "allow",
					"labels": map[string]any{"env": "prod", "site": "par1"}}, nil},
				{`{"labels":{"env":"staging","team":"net","site":null}}`, map[string]any{"name": "core", "description": "new",
					"default_action": "allow", "labels": map[string]any{"env": "staging", "team": "net"}}, nil},
				{`{"labels":{"gone":null}}`, map[string]any{"labels": map[string]any{"env": "staging", "team": "net"}}, nil},
				{`{"default_action":null,"description":null}`, map[string]any{"name": "core", "description": "",
					"default_action": "deny", "labels": map[string]any{"env": "staging", "team": "net"}}, nil},
				{`{"labels":null}`, map[string]any{"labels": map[string]any{}, "default_action": "deny"}, nil},
				{`{"name":"core-2","default_action":"allow"}`, map[string]any{"name": "core-2", "default_action": "allow",
					"description": "", "labels": map[string]any{}}, nil},
			},
		},
		{
			name:       "filtering policy",
			collection: func(tr tree) string { return tr.policies() },
			create: map[string]any{"name": "p", "description": "d", "priority": 10,
				"default_action": "deny", "enabled": false},
			steps: []crudPatchStep{
				{`{"priority":20}`, map[string]any{"name": "p", "description": "d", "priority": 20,
					"default_action": "deny", "enabled": false}, nil},
				{`{"enabled":null,"default_action":null,"description":null}`, map[string]any{"name": "p", "description": "",
					"priority": 20, "default_action": "next", "enabled": true}, nil},
				{`{"enabled":false,"default_action":"allow"}`, map[string]any{"name": "p", "priority": 20,
					"default_action": "allow", "enabled": false}, nil},
				{`{"name":"p2","priority":0}`, map[string]any{"name": "p2", "priority": 0,
					"default_action": "allow", "enabled": false}, nil},
			},
		},
		{
			name:       "rule",
			collection: func(tr tree) string { return tr.rules() },
			create: map[string]any{"name": "web", "description": "d", "action": "allow", "protocol": "tcp",
				"sources": []string{"10.0.0.0/8", "192.168.0.0/16"}, "destinations": []string{"192.0.2.0/24"},
				"destination_ports": []string{"443", "8443"}, "enabled": false, "expires_at": "2030-01-01T00:00:00Z"},
			steps: []crudPatchStep{
				{`{"action":"deny"}`, map[string]any{"name": "web", "description": "d", "action": "deny", "protocol": "tcp",
					"sources": []string{"10.0.0.0/8", "192.168.0.0/16"}, "destinations": []string{"192.0.2.0/24"},
					"destination_ports": []string{"443", "8443"}, "enabled": false,
					"expires_at": "2030-01-01T00:00:00Z", "position": 1}, nil},
				{`{"sources":["172.16.0.0/12"]}`, map[string]any{"sources": []string{"172.16.0.0/12"},
					"destinations": []string{"192.0.2.0/24"}, "destination_ports": []string{"443", "8443"}}, nil},
				{`{"destination_ports":["22"],"source_ports":["1024-65535"]}`, map[string]any{"destination_ports": []string{"22"},
					"source_ports": []string{"1024-65535"}, "sources": []string{"172.16.0.0/12"}}, nil},
				{`{"expires_at":null,"enabled":null,"description":null}`, map[string]any{"enabled": true, "description": "",
					"name": "web", "action": "deny"}, []string{"expires_at"}},
				{`{"name":null}`, map[string]any{"name": "", "action": "deny", "protocol": "tcp"}, nil},
				{`{"sources":null,"destinations":[],"source_ports":null,"destination_ports":[],"protocol":null}`,
					map[string]any{"sources": []string{}, "destinations": []string{}, "source_ports": []string{},
						"destination_ports": []string{}, "protocol": "any", "action": "deny", "position": 1}, nil},
				{`{"expires_at":"2031-06-01T12:00:00Z","name":"back"}`, map[string]any{"expires_at": "2031-06-01T12:00:00Z",
					"name": "back"}, nil},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			path := tt.collection(tr) + "/" + s.must(http.StatusCreated, "POST", tt.collection(tr), tt.create)["id"].(string)
			for i, step := range tt.steps {
				t.Run(fmt.Sprintf("step%d", i+1), func(t *testing.T) {
					s := crudWith(s, t)
					res := s.do("PATCH", path, step.patch, "Content-Type", "application/merge-patch+json")
					if res.Status != http.StatusOK {
						t.Fatalf("PATCH %s: status %d: %s", step.patch, res.Status, res.Body)
					}
					crudCheckFields(t, res.JSON(t), step.want, step.absent...)
					crudCheckFields(t, s.must(http.StatusOK, "GET", path, nil), step.want, step.absent...)
				})
			}
		})
	}
}

// TestCRUDPatchResponseMatchesGet checks that what a PATCH answers is what
// a GET then reads, for each kind of resource.
func TestCRUDPatchResponseMatchesGet(t *testing.T) {
	for _, c := range crudCollections {
		t.Run(c.kind, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			path := c.collection(tr) + "/" + s.must(http.StatusCreated, "POST", c.collection(tr), c.create)["id"].(string)
			patched := s.must(http.StatusOK, "PATCH", path, c.patch)
			got := s.must(http.StatusOK, "GET", path, nil)
			if diff := cmp.Diff(patched, got); diff != "" {
				t.Errorf("BUG (non-test code): the PATCH response differs from the resource a GET reads right after (-patch +get):\n%s"+
					"\nFor a firewall this is internal/service/firewalls.go UpdateFirewall: it answers Revision = cur.Revision+1, "+
					"but store.Tx.UpdateFirewall never writes the revision (only BumpRevision does) and the service does not call it.", diff)
			}
		})
	}
}

// TestCRUDFirewallPatchRaisesRevision checks that patching the firewall
// itself, a change in its tree, raises its stored revision.
func TestCRUDFirewallPatchRaisesRevision(t *testing.T) {
	tests := []struct{ name, patch string }{
		{"description", `{"description":"x"}`},
		{"labels", `{"labels":{"env":"prod"}}`},
		{"default action", `{"default_action":"allow"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			before := crudNum(t, crudFirewall(s, tr)["revision"])
			answered := crudNum(t, s.must(http.StatusOK, "PATCH", tr.firewall(), tt.patch)["revision"])
			stored := crudNum(t, crudFirewall(s, tr)["revision"])
			if answered != before+1 || stored != before+1 {
				t.Errorf("BUG (non-test code, internal/service/firewalls.go UpdateFirewall): revision was %d; "+
					"PATCH answered %d and GET then reads %d; both should be %d "+
					"(the service sets Revision = cur.Revision+1 in memory but never calls tx.BumpRevision, "+
					"and the store's UpdateFirewall does not write the revision)", before, answered, stored, before+1)
			}
		})
	}
}

// TestCRUDRevisionRises checks that every change in the tree raises the
// firewall's revision by one and changes its etag, and that reads do not.
func TestCRUDRevisionRises(t *testing.T) {
	s := newTestServer(t)
	tr := s.newTree("edge") // firewall create (1), policy create (2)
	var ruleA, ruleB, policy2 string
	steps := []struct {
		name   string
		change func(s *testServer)
		bumps  int
	}{
		{"policy create", func(s *testServer) {
			policy2 = s.must(http.StatusCreated, "POST", tr.policies(), map[string]any{"name": "second", "priority": 200})["id"].(string)
		}, 1},
		{"policy patch", func(s *testServer) { s.must(http.StatusOK, "PATCH", tr.policy(), map[string]any{"description": "x"}) }, 1},
		{"rule create", func(s *testServer) { ruleA = s.newRule(tr, map[string]any{"action": "allow"}) }, 1},
		{"rule create at 1", func(s *testServer) { ruleB = s.newRule(tr, map[string]any{"action": "deny", "position": 1}) }, 1},
		{"rule patch", func(s *testServer) {
			s.must(http.StatusOK, "PATCH", tr.rules()+"/"+ruleA, map[string]any{"action": "reject"})
		}, 1},
		{"rule move by position", func(s *testServer) {
			s.must(http.StatusOK, "POST", tr.rules()+"/"+ruleA+"/move", map[string]any{"position": 1})
		}, 1},
		{"rule move after", func(s *testServer) {
			s.must(http.StatusOK, "POST", tr.rules()+"/"+ruleA+"/move", map[string]any{"after": ruleB})
		}, 1},
		{"rule move before", func(s *testServer) {
			s.must(http.StatusOK, "POST", tr.rules()+"/"+ruleA+"/move", map[string]any{"before": ruleB})
		}, 1},
		{"reads", func(s *testServer) {
			s.must(http.StatusOK, "GET", tr.firewall(), nil)
			s.must(http.StatusOK, "GET", tr.policies(), nil)
			s.must(http.StatusOK, "GET", tr.policy(), nil)
			s.must(http.StatusOK, "GET", tr.rules(), nil)
			s.must(http.StatusOK, "GET", tr.rules()+"/"+ruleA, nil)
		}, 0},
		{"refused write", func(s *testServer) {
			s.must(http.StatusConflict, "POST", tr.policies(), map[string]any{"name": "third", "priority": 200})
		}, 0},
		{"rule delete", func(s *testServer) { s.must(http.StatusNoContent, "DELETE", tr.rules()+"/"+ruleB, nil) }, 1},
		{"policy delete", func(s *testServer) { s.must(http.StatusNoContent, "DELETE", tr.policies()+"/"+policy2, nil) }, 1},
		{"policy delete cascade", func(s *testServer) { s.must(http.StatusNoContent, "DELETE", tr.policy()+"?cascade=true", nil) }, 1},
	}
	fw := crudFirewall(s, tr)
	if rev := crudNum(t, fw["revision"]); rev != 2 {
		t.Fatalf("revision after firewall and policy create is %d, want 2", rev)
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			s := crudWith(s, t)
			step.change(s)
			res := s.do("GET", tr.firewall(), nil)
			crudCheckETag(t, res)
			now := res.JSON(t)
			rev, prev := crudNum(t, now["revision"]), crudNum(t, fw["revision"])
			if rev != prev+step.bumps {
				t.Errorf("revision %d after %s, want %d", rev, step.name, prev+step.bumps)
			}
			if changed := now["etag"] != fw["etag"]; changed != (step.bumps > 0) {
				t.Errorf("after %s the firewall etag went from %v to %v", step.name, fw["etag"], now["etag"])
			}
			fw = now
		})
	}
}

// crudLetters creates rules named a, b, c ... at the end of the policy and
// returns their ids by name.
func crudLetters(s *testServer, tr tree, n int) map[string]string {
	s.t.Helper()
	ids := map[string]string{}
	for i := range n {
		name := string(rune('a' + i))
		r := s.must(http.StatusCreated, "POST", tr.rules(), map[string]any{"name": name, "action": "allow"})
		if got := crudNum(s.t, r["position"]); got != i+1 {
			s.t.Fatalf("rule %s appended at position %d, want %d", name, got, i+1)
		}
		ids[name] = r["id"].(string)
	}
	return ids
}

// crudOrder returns the names of the policy's rules in position order,
// checking through ruleIDs that positions are exactly 1..n.
func crudOrder(s *testServer, tr tree, ids map[string]string) string {
	s.t.Helper()
	byID := map[string]string{}
	for name, id := range ids {
		byID[id] = name
	}
	var names []string
	for _, id := range s.ruleIDs(tr) {
		name, ok := byID[id]
		if !ok {
			name = "?"
		}
		names = append(names, name)
	}
	return strings.Join(names, "")
}

// TestCRUDRuleInsert inserts a rule at various positions in a policy of three.
func TestCRUDRuleInsert(t *testing.T) {
	tests := []struct {
		name     string
		position any // nil: left out
		wantPos  int
		want     string
	}{
		{"at position 1", 1, 1, "xabc"},
		{"in the middle", 2, 2, "axbc"},
		{"at position n", 3, 3, "abxc"},
		{"at the end (n+1)", 4, 4, "abcx"},
		{"default append", nil, 4, "abcx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			ids := crudLetters(s, tr, 3)
			if got := crudOrder(s, tr, ids); got != "abc" {
				t.Fatalf("order %q before insert, want abc", got)
			}
			body := map[string]any{"name": "x", "action": "deny"}
			if tt.position != nil {
				body["position"] = tt.position
			}
			r := s.must(http.StatusCreated, "POST", tr.rules(), body)
			ids["x"] = r["id"].(string)
			if got := crudNum(t, r["position"]); got != tt.wantPos {
				t.Errorf("created at position %d, want %d", got, tt.wantPos)
			}
			if got := crudOrder(s, tr, ids); got != tt.want {
				t.Errorf("order %q, want %q", got, tt.want)
			}
			// Every rule reads back with the position the list shows.
			for i, id := range s.ruleIDs(tr) {
				if got := crudNum(t, s.must(http.StatusOK, "GET", tr.rules()+"/"+id, nil)["position"]); got != i+1 {
					t.Errorf("rule %s reads position %d, list shows %d", id, got, i+1)
				}
			}
		})
	}
}

// crudMove is one move and the order expected after it.
type crudMove struct {
	rule string // name of the rule moved
	by   string // position, before or after
	to   any    // an int position, or the name of the anchor rule
	want string // names in position order afterwards
}

// TestCRUDRuleMove moves rules up and down by position, before and after,
// checking after every step that positions are 1..n and in the expected order.
func TestCRUDRuleMove(t *testing.T) {
	tests := []struct {
		name  string
		moves []crudMove
	}{
		{"by position", []crudMove{
			{"a", "position", 3, "bcade"}, // down
			{"e", "position", 1, "ebcad"}, // up to the top
			{"c", "position", 5, "ebadc"}, // down to the end
			{"b", "position", 2, "ebadc"}, // where it already is
			{"d", "position", 2, "edbac"}, // up
		}},
		{"before", []crudMove{
			{"e", "before", "a", "eabcd"}, // up to the top
			{"a", "before", "d", "ebcad"}, // down
			{"d", "before", "e", "debca"}, // up to the top
			{"b", "before", "c", "debca"}, // already just before
			{"e", "before", "a", "dbcea"}, // down to next to last
		}},
		{"after", []crudMove{
			{"a", "after", "c", "bcade"}, // down
			{"e", "after", "b", "becad"}, // up
			{"b", "after", "d", "ecadb"}, // down to the end
			{"c", "after", "e", "ecadb"}, // already just after
			{"b", "after", "e", "ebcad"}, // up
		}},
		{"mixed", []crudMove{
			{"c", "after", "e", "abdec"},
			{"c", "before", "a", "cabde"},
			{"a", "position", 5, "cbdea"},
			{"e", "after", "a", "cbdae"},
			{"b", "before", "c", "bcdae"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			ids := crudLetters(s, tr, 5)
			for i, m := range tt.moves {
				body := map[string]any{}
				if m.by == "position" {
					body["position"] = m.to
				} else {
					body[m.by] = ids[m.to.(string)]
				}
				res := s.do("POST", tr.rules()+"/"+ids[m.rule]+"/move", body)
				if res.Status != http.StatusOK {
					t.Fatalf("step %d: move %s %s %v: status %d: %s", i+1, m.rule, m.by, m.to, res.Status, res.Body)
				}
				crudCheckETag(t, res)
				moved := res.JSON(t)
				if got := crudOrder(s, tr, ids); got != m.want {
					t.Fatalf("step %d: move %s %s %v: order %q, want %q", i+1, m.rule, m.by, m.to, got, m.want)
				}
				if got, want := crudNum(t, moved["position"]), strings.Index(m.want, m.rule)+1; got != want {
					t.Errorf("step %d: move answered position %d, want %d", i+1, got, want)
				}
			}
		})
	}
}

// TestCRUDRuleDeleteClosesGaps deletes rules from the middle, the start and
// the end, checking positions stay 1..n.
func TestCRUDRuleDeleteClosesGaps(t *testing.T) {
	tests := []struct {
		name    string
		deletes []string
		wants   []string
	}{
		{"middle first", []string{"c", "a", "e"}, []string{"abde", "bde", "bd"}},
		{"from the end", []string{"e", "d", "c", "b", "a"}, []string{"abcd", "abc", "ab", "a", ""}},
		{"from the start", []string{"a", "b", "c", "d", "e"}, []string{"bcde", "cde", "de", "e", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			ids := crudLetters(s, tr, 5)
			for i, name := range tt.deletes {
				s.must(http.StatusNoContent, "DELETE", tr.rules()+"/"+ids[name], nil)
				if got := crudOrder(s, tr, ids); got != tt.wants[i] {
					t.Fatalf("after deleting %s: order %q, want %q", name, got, tt.wants[i])
				}
			}
			// A rule appended after the deletes goes right after the last one.
			r := s.must(http.StatusCreated, "POST", tr.rules(), map[string]any{"action": "allow"})
			if got, want := crudNum(t, r["position"]), len(tt.wants[len(tt.wants)-1])+1; got != want {
				t.Errorf("appended at %d, want %d", got, want)
			}
		})
	}
}

// TestCRUDCascadeDeletes checks that deleting a resource with children
// answers 409 unless cascade=true, and that cascade removes the children.
func TestCRUDCascadeDeletes(t *testing.T) {
	tests := []struct {
		name string
		// target returns the path deleted.
		target func(tree) string
		// gone and kept list paths that must answer 404 and 200 afterwards.
		gone, kept func(tr tree, rule, other string) []string
	}{
		{
			name:   "firewall with policies and rules",
			target: func(tr tree) string { return tr.firewall() },
			gone: func(tr tree, rule, other string) []string {
				return []string{tr.firewall(), tr.policy(), tr.rules() + "/" + rule, tr.policies() + "/" + other, tr.policies()}
			},
			kept: func(tree, string, string) []string { return nil },
		},
		{
			name:   "policy with rules",
			target: func(tr tree) string { return tr.policy() },
			gone: func(tr tree, rule, other string) []string {
				return []string{tr.policy(), tr.rules() + "/" + rule, tr.rules()}
			},
			kept: func(tr tree, _, other string) []string {
				return []string{tr.firewall(), tr.policies() + "/" + other}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			rule := s.newRule(tr, nil)
			s.newRule(tr, nil)
			other := s.must(http.StatusCreated, "POST", tr.policies(), map[string]any{"name": "other", "priority": 1})["id"].(string)
			keep := s.newTree("unrelated")
			keepRule := s.newRule(keep, nil)

			for _, q := range []string{"", "?cascade=false"} {
				assertProblem(t, s.do("DELETE", tt.target(tr)+q, nil), http.StatusConflict, "", "")
				if len(s.ruleIDs(tr)) != 2 {
					t.Fatalf("a refused delete%s removed rules", q)
				}
			}
			s.must(http.StatusNoContent, "DELETE", tt.target(tr)+"?cascade=true", nil)
			for _, p := range tt.gone(tr, rule, other) {
				assertProblem(t, s.do("GET", p, nil), http.StatusNotFound, "", "")
			}
			for _, p := range tt.kept(tr, rule, other) {
				s.must(http.StatusOK, "GET", p, nil)
			}
			s.must(http.StatusOK, "GET", keep.rules()+"/"+keepRule, nil)
			if ids := s.ruleIDs(keep); len(ids) != 1 {
				t.Errorf("the unrelated tree has rules %v after the cascade", ids)
			}
		})
	}

	t.Run("empty resources need no cascade", func(t *testing.T) {
		t.Parallel()
		s := newTestServer(t)
		tr := s.newTree("edge")
		s.must(http.StatusNoContent, "DELETE", tr.policy(), nil)
		s.must(http.StatusNoContent, "DELETE", tr.firewall(), nil)
		if n := len(crudItems(s, firewallsPath)); n != 0 {
			t.Errorf("%d firewalls left", n)
		}
	})
}

// crudFixture is a tree with two rules, for the If-Match tests.
type crudFixture struct {
	tr          tree
	rule, rule2 string
}

func (fx crudFixture) rulePath() string { return fx.tr.rules() + "/" + fx.rule }

// crudIfMatchOps are the conditional writes: each names the resource whose
// etag the precondition checks.
var crudIfMatchOps = []struct {
	name, method string
	path         func(crudFixture) string
	etagOf       func(crudFixture) string // path of the resource whose etag counts
	body         func(crudFixture) any
	status       int
}{
	{"patch firewall", "PATCH", func(fx crudFixture) string { return fx.tr.firewall() },
		func(fx crudFixture) string { return fx.tr.firewall() },
		func(crudFixture) any { return map[string]any{"description": "x"} }, http.StatusOK},
	{"patch policy", "PATCH", func(fx crudFixture) string { return fx.tr.policy() },
		func(fx crudFixture) string { return fx.tr.policy() },
		func(crudFixture) any { return map[string]any{"description": "x"} }, http.StatusOK},
	{"patch rule", "PATCH", crudFixture.rulePath, crudFixture.rulePath,
		func(crudFixture) any { return map[string]any{"description": "x"} }, http.StatusOK},
	{"move rule", "POST", func(fx crudFixture) string { return fx.rulePath() + "/move" }, crudFixture.rulePath,
		func(crudFixture) any { return map[string]any{"position": 2} }, http.StatusOK},
	{"move rule after", "POST", func(fx crudFixture) string { return fx.rulePath() + "/move" }, crudFixture.rulePath,
		func(fx crudFixture) any { return map[string]any{"after": fx.rule2} }, http.StatusOK},
	{"delete rule", "DELETE", crudFixture.rulePath, crudFixture.rulePath,
		func(crudFixture) any { return nil }, http.StatusNoContent},
	{"delete policy", "DELETE", func(fx crudFixture) string { return fx.tr.policy() + "?cascade=true" },
		func(fx crudFixture) string { return fx.tr.policy() },
		func(crudFixture) any { return nil }, http.StatusNoContent},
	{"delete firewall", "DELETE", func(fx crudFixture) string { return fx.tr.firewall() + "?cascade=true" },
		func(fx crudFixture) string { return fx.tr.firewall() },
		func(crudFixture) any { return nil }, http.StatusNoContent},
}

// TestCRUDIfMatch checks that every form of a matching If-Match lets the
// write through, and that a stale one answers 412 and changes nothing.
func TestCRUDIfMatch(t *testing.T) {
	forms := []struct {
		name   string
		header func(etag string) string
		stale  bool
	}{
		{"quoted", func(e string) string { return `"` + e + `"` }, false},
		{"bare", func(e string) string { return e }, false},
		{"weak", func(e string) string { return `W/"` + e + `"` }, false},
		{"star", func(string) string { return "*" }, false},
		{"list", func(e string) string { return `"0000000000000000", "` + e + `"` }, false},
		{"stale", func(string) string { return `"0000000000000000"` }, true},
		{"stale weak", func(string) string { return `W/"0000000000000000"` }, true},
	}
	for _, op := range crudIfMatchOps {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			// One server per operation; each form gets a tree of its own in it.
			server := newTestServer(t)
			for _, form := range forms {
				t.Run(form.name, func(t *testing.T) {
					s := crudWith(server, t)
					tr := s.newTree("edge-" + form.name)
					fx := crudFixture{tr: tr, rule: s.newRule(tr, nil), rule2: s.newRule(tr, nil)}
					etag := s.must(http.StatusOK, "GET", op.etagOf(fx), nil)["etag"].(string)
					before := crudFirewall(s, tr)

					res := s.do(op.method, op.path(fx), op.body(fx), "If-Match", form.header(etag))
					if !form.stale {
						if res.Status != op.status {
							t.Fatalf("If-Match %s: status %d, want %d: %s", form.header(etag), res.Status, op.status, res.Body)
						}
						return
					}
					assertProblem(t, res, http.StatusPreconditionFailed, "", "")
					if after := crudFirewall(s, tr); after["revision"] != before["revision"] || after["etag"] != before["etag"] {
						t.Errorf("a refused write changed the firewall: %v -> %v", before, after)
					}
					if got := s.must(http.StatusOK, "GET", op.etagOf(fx), nil)["etag"]; got != etag {
						t.Errorf("a refused write changed the etag from %s to %v", etag, got)
					}
				})
			}
		})
	}
}

// TestCRUDIdempotencyKey checks replays, key reuse with another body, and
// that keys are scoped to the collection they are posted to.
func TestCRUDIdempotencyKey(t *testing.T) {
	tests := []struct {
		name       string
		collection func(tree) string
		body, diff map[string]any
		// other is another collection, and a body valid there.
		other     func(s *testServer, tr tree) string
		otherBody map[string]any
	}{
		{
			name:       "firewall",
			collection: func(tree) string { return firewallsPath },
			body:       map[string]any{"name": "core"},
			diff:       map[string]any{"name": "core-2"},
			other:      func(_ *testServer, tr tree) string { return tr.policies() },
			otherBody:  map[string]any{"name": "core", "priority": 7},
		},
		{
			name:       "filtering policy",
			collection: func(tr tree) string { return tr.policies() },
			body:       map[string]any{"name": "p", "priority": 5},
			diff:       map[string]any{"name": "p", "priority": 6},
			other:      func(s *testServer, _ tree) string { return s.newTree("other").policies() },
			otherBody:  map[string]any{"name": "p", "priority": 5},
		},
		{
			name:       "rule",
			collection: func(tr tree) string { return tr.rules() },
			body:       map[string]any{"action": "allow", "sources": []string{"10.0.0.0/8"}},
			diff:       map[string]any{"action": "deny", "sources": []string{"10.0.0.0/8"}},
			other: func(s *testServer, tr tree) string {
				p := s.must(http.StatusCreated, "POST", tr.policies(), map[string]any{"name": "second", "priority": 9})
				return tr.policies() + "/" + p["id"].(string) + "/rules"
			},
			otherBody: map[string]any{"action": "allow", "sources": []string{"10.0.0.0/8"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			tr := s.newTree("edge")
			coll := tt.collection(tr)
			n := len(crudItems(s, coll))
			const key = "4f1d2c3b-retry-me"

			first := s.do("POST", coll, tt.body, "Idempotency-Key", key)
			if first.Status != http.StatusCreated {
				t.Fatalf("first POST: status %d: %s", first.Status, first.Body)
			}
			if h := first.Header.Get("Idempotent-Replayed"); h != "" {
				t.Errorf("first POST has Idempotent-Replayed %q", h)
			}
			rev := crudFirewall(s, tr)["revision"]
			for i := range 2 {
				again := s.do("POST", coll, tt.body, "Idempotency-Key", key)
				if again.Status != http.StatusCreated {
					t.Fatalf("replay %d: status %d, want 201: %s", i+1, again.Status, again.Body)
				}
				if h := again.Header.Get("Idempotent-Replayed"); h != "true" {
					t.Errorf("replay %d: Idempotent-Replayed %q, want true", i+1, h)
				}
				if diff := cmp.Diff(first.JSON(t), again.JSON(t)); diff != "" {
					t.Errorf("replay %d answered another body (-first +replay):\n%s", i+1, diff)
				}
				for _, h := range []string{"Location", "ETag"} {
					if first.Header.Get(h) != again.Header.Get(h) {
						t.Errorf("replay %d: %s %q, first %q", i+1, h, again.Header.Get(h), first.Header.Get(h))
					}
				}
			}
			if got := len(crudItems(s, coll)); got != n+1 {
				t.Errorf("%d items after a POST and two replays, want %d", got, n+1)
			}
			if got := crudFirewall(s, tr)["revision"]; got != rev {
				t.Errorf("replays moved the revision from %v to %v", rev, got)
			}

			// The same key with another body is refused, and writes nothing.
			assertProblem(t, s.do("POST", coll, tt.diff, "Idempotency-Key", key), http.StatusUnprocessableEntity, "", "")
			if got := len(crudItems(s, coll)); got != n+1 {
				t.Errorf("%d items after a refused reuse, want %d", got, n+1)
			}

			// The same key on another collection is another request.
			other := tt.other(s, tr)
			res := s.do("POST", other, tt.otherBody, "Idempotency-Key", key)
			if res.Status != http.StatusCreated || res.Header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("same key on %s: status %d, replayed %q: %s", other, res.Status, res.Header.Get("Idempotent-Replayed"), res.Body)
			}
			if res.JSON(t)["id"] == first.JSON(t)["id"] {
				t.Errorf("same key on another collection returned the first resource")
			}

			// Without a key, the same body makes a new resource (where the
			// body does not clash with the first).
			if tt.name == "rule" {
				s.must(http.StatusCreated, "POST", coll, tt.body)
				if got := len(crudItems(s, coll)); got != n+2 {
					t.Errorf("%d rules after a POST without key, want %d", got, n+2)
				}
			}
		})
	}
}

// TestCRUDPaging pages through each collection and checks order, sizes and tokens.
func TestCRUDPaging(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int
		// fill creates the items and returns the collection and the ids in
		// the order the list must give them.
		fill      func(s *testServer) (string, []string)
		wantPages []int
	}{
		{
			name: "7 firewalls by name", pageSize: 2, wantPages: []int{2, 2, 2, 1},
			fill: func(s *testServer) (string, []string) {
				byName := map[string]string{}
				for _, n := range []string{"delta", "Alpha", "golf", "charlie", "Echo", "bravo", "foxtrot"} {
					byName[strings.ToLower(n)] = s.must(http.StatusCreated, "POST", firewallsPath, map[string]any{"name": n})["id"].(string)
				}
				var want []string
				for _, n := range []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"} {
					want = append(want, byName[n])
				}
				return firewallsPath, want
			},
		},
		{
			name: "5 policies by priority", pageSize: 2, wantPages: []int{2, 2, 1},
			fill: func(s *testServer) (string, []string) {
				fw := s.must(http.StatusCreated, "POST", firewallsPath, map[string]any{"name": "edge"})["id"].(string)
				coll := firewallsPath + "/" + fw + "/filtering-policies"
				byPrio := map[int]string{}
				for _, p := range []int{300, 0, 65535, 20, 100} {
					byPrio[p] = s.must(http.StatusCreated, "POST", coll, map[string]any{"name": fmt.Sprint("p", p), "priority": p})["id"].(string)
				}
				return coll, []string{byPrio[0], byPrio[20], byPrio[100], byPrio[300], byPrio[65535]}
			},
		},
		{
			name: "7 rules by position", pageSize: 3, wantPages: []int{3, 3, 1},
			fill: func(s *testServer) (string, []string) {
				tr := s.newTree("edge")
				for i := range 7 {
					body := map[string]any{"action": "allow"}
					if i%2 == 1 {
						body["position"] = 1 // mix inserts at the top with appends
					}
					s.newRule(tr, body)
				}
				return tr.rules(), s.ruleIDs(tr)
			},
		},
		{
			name: "rules in one page", pageSize: 7, wantPages: []int{7},
			fill: func(s *testServer) (string, []string) {
				tr := s.newTree("edge")
				for range 7 {
					s.newRule(tr, nil)
				}
				return tr.rules(), s.ruleIDs(tr)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			coll, want := tt.fill(s)
			var got []string
			var sizes []int
			token := ""
			for page := 0; ; page++ {
				if page > len(tt.wantPages) {
					t.Fatalf("more than %d pages", len(tt.wantPages))
				}
				q := url.Values{"page_size": {fmt.Sprint(tt.pageSize)}}
				if token != "" {
					q.Set("page_token", token)
				}
				res := s.must(http.StatusOK, "GET", coll+"?"+q.Encode(), nil)
				items := res["items"].([]any)
				sizes = append(sizes, len(items))
				for _, it := range items {
					got = append(got, it.(map[string]any)["id"].(string))
				}
				token = res["next_page_token"].(string)
				if token == "" {
					break
				}
			}
			if diff := cmp.Diff(tt.wantPages, sizes); diff != "" {
				t.Errorf("page sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids over all pages (-want +got):\n%s", diff)
			}
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] {
					t.Errorf("id %s on two pages", id)
				}
				seen[id] = true
			}
		})
	}
}

// TestCRUDHealth checks the public health endpoints.
func TestCRUDHealth(t *testing.T) {
	tests := []struct {
		path string
		want map[string]any
	}{
		{"/health-check", map[string]any{"status": "OK", "version": "test"}},
		{"/healthz", map[string]any{"status": "ok"}},
		{"/readyz", map[string]any{"status": "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			res := s.do("GET", tt.path, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if diff := cmp.Diff(tt.want, res.JSON(t)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCRUDOpenAPIDocuments checks that both forms of the OpenAPI document
// are served and describe the resources.
func TestCRUDOpenAPIDocuments(t *testing.T) {
	tests := []struct {
		path, contentType string
		contains          []string
	}{
		{"/openapi.json", "json", []string{`"openapi":"3.1`, `"/api/v1/firewalls"`,
			`"/api/v1/firewalls/{firewall_id}/filtering-policies/{policy_id}/rules/{rule_id}/move"`}},
		{"/openapi.yaml", "yaml", []string{"openapi: 3.1", "/api/v1/firewalls:", "Problem:"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t)
			res := s.do("GET", tt.path, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("status %d", res.Status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.Contains(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want it to name %s", ct, tt.contentType)
			}
			body := string(res.Body)
			if tt.contentType == "json" {
				var doc map[string]any
				if err := json.Unmarshal(res.Body, &doc); err != nil {
					t.Fatalf("not JSON: %v", err)
				}
				compact, _ := json.Marshal(doc)
				body = string(compact)
			}
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("document does not contain %q", want)
				}
			}
		})
	}
}

// TestCRUDSwaggerUI checks that Swagger UI and every asset its page refers
// to are served locally.
func TestCRUDSwaggerUI(t *testing.T) {
	s := newTestServer(t)
	page := s.do("GET", "/docs/swagger-ui/", nil)
	if page.Status != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q", page.Status, page.Header.Get("Content-Type"))
	}
	html := string(page.Body)
	if !strings.Contains(html, "swagger-ui") || !strings.Contains(html, "/openapi.json") {
		t.Errorf("the page does not load Swagger UI with /openapi.json")
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	var assets []string
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("the page refers to %q, which is not served by FireFlow itself", ref)
			continue
		}
		assets = append(assets, ref)
	}
	var js, css bool
	for _, a := range assets {
		js = js || strings.HasSuffix(a, ".js")
		css = css || strings.HasSuffix(a, ".css")
	}
	if !js || !css {
		t.Fatalf("the page refers to no script or no stylesheet: %v", assets)
	}
	for _, a := range assets {
		t.Run(a, func(t *testing.T) {
			res := crudWith(s, t).do("GET", a, nil)
			if res.Status != http.StatusOK || len(res.Body) < 100 {
				t.Fatalf("status %d, %d bytes", res.Status, len(res.Body))
			}
			ct := res.Header.Get("Content-Type")
			switch {
			case strings.HasSuffix(a, ".js") && !strings.Contains(ct, "javascript"),
				strings.HasSuffix(a, ".css") && !strings.Contains(ct, "css"):
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	t.Run("without trailing slash", func(t *testing.T) {
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Get(s.url + "/docs/swagger-ui")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 3 || res.Header.Get("Location") != "/docs/swagger-ui/" {
			t.Errorf("status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
}

// TestCRUDRequestID checks that a sane X-Request-ID is echoed and an
// insane one is replaced, on successes and problems alike.
func TestCRUDRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"sane", "req-42_abc.DEF", true},
		{"64 characters", strings.Repeat("r", 64), true},
		{"none", "", false},
		{"200 characters", strings.Repeat("r", 200), false},
		{"65 characters", strings.Repeat("r", 65), false},
		{"spaces", "has spaces in it", false},
		{"injection", `x";alert(1)`, false},
		{"non-ASCII", "réq", false},
	}
	for _, tt := range tests {
		for _, path := range []string{"/healthz", "/api/v1/firewalls/missing"} {
			t.Run(tt.name+path, func(t *testing.T) {
				t.Parallel()
				s := newTestServer(t)
				var res response
				if tt.sent == "" {
					res = s.do("GET", path, nil)
				} else {
					res = s.do("GET", path, nil, "X-Request-ID", tt.sent)
				}
				got := res.Header.Get("X-Request-ID")
				if tt.kept && got != tt.sent {
					t.Errorf("X-Request-ID %q, want the sent %q kept", got, tt.sent)
				}
				if !tt.kept && (got == tt.sent || !generated.MatchString(got)) {
					t.Errorf("X-Request-ID %q: want a fresh id instead of %q", got, tt.sent)
				}
				if res.Status == http.StatusNotFound {
					assertProblem(t, res, http.StatusNotFound, "", "") // checks request_id == header
				}
			})
		}
	}
}
