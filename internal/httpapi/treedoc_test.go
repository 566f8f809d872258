package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fireflow/fireflow/internal/firewall"
)

const validTreeDoc = `{
  "name": "edge", "default_action": "deny",
  "policies": [
    {"id": "p-base", "name": "baseline", "priority": 10, "default_action": "next",
     "rules": [
       {"name": "web", "action": "allow", "protocol": "tcp", "destinations": ["192.0.2.10"], "destination_ports": ["443"]},
       {"id": "r-ssh", "action": "reject", "protocol": "tcp", "sources": ["2001:db8::/32"], "destination_ports": ["22"], "enabled": false}
     ]},
    {"name": "last", "priority": 20, "default_action": "allow"}
  ]
}`

func TestDecodeTreeDocument(t *testing.T) {
	tree, err := DecodeTreeDocument(strings.NewReader(validTreeDoc))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if tree.Firewall.ID != "firewall" || tree.Firewall.DefaultAction != firewall.Deny || len(tree.Policies) != 2 {
		t.Fatalf("firewall = %+v with %d policies", tree.Firewall, len(tree.Policies))
	}
	p0, p1 := tree.Policies[0], tree.Policies[1]
	if p0.Policy.ID != "p-base" || p1.Policy.ID != "policies[1]" || p1.Policy.DefaultAction != firewall.Allow || !p1.Policy.Enabled {
		t.Errorf("policies = %+v, %+v", p0.Policy, p1.Policy)
	}
	r0, r1 := p0.Rules[0], p0.Rules[1]
	if r0.ID != "policies[0].rules[0]" || r0.Position != 1 || r0.PolicyID != "p-base" || r0.FirewallID != "firewall" {
		t.Errorf("rule 0 ids = %q %d %q %q", r0.ID, r0.Position, r0.PolicyID, r0.FirewallID)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}; !slices.Equal(r0.Destinations, want) {
		t.Errorf("rule 0 destinations = %v, want %v", r0.Destinations, want)
	}
	if r1.ID != "r-ssh" || r1.Position != 2 || r1.Enabled || r1.Action != firewall.Reject {
		t.Errorf("rule 1 = %+v", r1)
	}

	// A tree read back as a document decodes to the same tree.
	doc, err := json.Marshal(TreeDocumentOf(tree))
	if err != nil {
		t.Fatal(err)
	}
	again, err := DecodeTreeDocument(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("decode the document of the tree: %v\n%s", err, doc)
	}
	if diff := cmp.Diff(tree, again, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("round trip (-first +again):\n%s", diff)
	}
}

func TestDecodeTreeDocumentRefuses(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // problem locations; nil for a decoding error
	}{
		{"unknown field", `{"name":"a","policy":[]}`, nil},
		{"trailing data", `{"name":"a"} {}`, nil},
		{"not an object", `[]`, nil},
		{"no name", `{"policies":[]}`, []string{"name"}},
		{"bad cidr", `{"name":"a","policies":[{"name":"p","priority":1,"rules":[{"action":"allow"},{"action":"allow","sources":["10.0.0.1/8"]}]}]}`,
			[]string{"policies[0].rules[1].sources[0]"}},
		{"ports with icmp", `{"name":"a","policies":[{"name":"p","priority":1,"rules":[{"action":"deny","protocol":"icmp","destination_ports":["80"]}]}]}`,
			[]string{"policies[0].rules[0].destination_ports"}},
		{"wrong position", `{"name":"a","policies":[{"name":"p","priority":1,"rules":[{"action":"allow","position":2}]}]}`,
			[]string{"policies[0].rules[0].position"}},
		{"same policy name", `{"name":"a","policies":[{"name":"P","priority":1},{"name":"p","priority":2}]}`,
			[]string{"policies[1].name"}},
		{"same priority", `{"name":"a","policies":[{"name":"p","priority":1},{"name":"q","priority":1}]}`,
			[]string{"policies[1].priority"}},
		{"same rule name", `{"name":"a","policies":[{"name":"p","priority":1,"rules":[{"name":"x","action":"allow"},{"name":"X","action":"deny"}]}]}`,
			[]string{"policies[0].rules[1].name"}},
		{"bad defaults", `{"name":"a","default_action":"next","policies":[{"name":"p","priority":70000,"default_action":"reject"}]}`,
			[]string{"default_action", "policies[0].default_action", "policies[0].priority"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeTreeDocument(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatal("decoded, want an error")
			}
			var e *firewall.Error
			if tt.want == nil {
				if errors.As(err, &e) {
					t.Fatalf("got a validation error %v, want a decoding error", err)
				}
				return
			}
			if !errors.As(err, &e) || e.Code != firewall.CodeInvalid {
				t.Fatalf("error %v is not an invalid-input error", err)
			}
			var got []string
			for _, p := range e.Problems {
				got = append(got, p.Location)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problem locations (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func FuzzDecodeTreeDocument(f *testing.F) {
	f.Add(validTreeDoc)
	f.Add(`{"name":"a","policies":[{"name":"p","priority":1,"rules":[{"action":"allow","sources":["::/0"],"source_ports":["1-2"]}]}]}`)
	f.Add(`{"name":"a","labels":{"k":"v"},"policies":[{"name":"p","priority":1,"rules":[{"action":"deny","expires_at":"2030-01-01T00:00:00Z"}]}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		tree, err := DecodeTreeDocument(strings.NewReader(doc))
		if err != nil {
			return
		}
		// What decodes is a valid tree, whose rules sit at their places.
		if err := tree.Validate(); err != nil {
			t.Fatalf("decoded an invalid tree: %v", err)
		}
		for _, pt := range tree.Policies {
			for j, r := range pt.Rules {
				if r.Position != j+1 || r.PolicyID != pt.Policy.ID {
					t.Fatalf("rule %q at %d has position %d, policy %q", r.ID, j, r.Position, r.PolicyID)
				}
			}
		}
	})
}
