package firewall

import (
	"encoding/json"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestOptionalUnmarshal(t *testing.T) {
	type body struct {
		Name Optional[string] `json:"name"`
	}
	tests := []struct {
		name string
		json string
		want Optional[string]
	}{
		{"left out", `{}`, Optional[string]{}},
		{"null", `{"name":null}`, Null[string]()},
		{"null with blanks", `{"name": null }`, Null[string]()},
		{"value", `{"name":"edge"}`, Some("edge")},
		{"empty string is a value", `{"name":""}`, Some("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b body
			if err := json.Unmarshal([]byte(tt.json), &b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.Name); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	var b body
	if err := json.Unmarshal([]byte(`{"name":7}`), &b); err == nil {
		t.Error("a number decoded into Optional[string] without error")
	}
}

func ptr[T any](v T) *T { return &v }

func TestFirewallPatchApply(t *testing.T) {
	cur := Firewall{Meta: Meta{ID: "f1", ETag: "e"}, Name: "edge", Description: "d", DefaultAction: Allow,
		Labels: map[string]string{"env": "prod", "site": "par1"}, Revision: 4}
	tests := []struct {
		name    string
		patch   FirewallPatch
		want    Firewall
		problem string // the location of the expected problem, if any
	}{
		{name: "empty patch keeps everything", want: cur},
		{name: "labels merge key by key",
			patch: FirewallPatch{Labels: Some(map[string]*string{"env": ptr("staging"), "site": nil, "team": ptr("net")})},
			want: Firewall{Meta: cur.Meta, Name: "edge", Description: "d", DefaultAction: Allow, Revision: 4,
				Labels: map[string]string{"env": "staging", "team": "net"}}},
		{name: "null resets to the defaults",
			patch: FirewallPatch{Description: Null[string](), DefaultAction: Null[Action](), Labels: Null[map[string]*string]()},
			want:  Firewall{Meta: cur.Meta, Name: "edge", DefaultAction: Deny, Revision: 4, Labels: map[string]string{}}},
		{name: "null name is refused", patch: FirewallPatch{Name: Null[string]()}, problem: "name"},
		{name: "invalid result is refused", patch: FirewallPatch{DefaultAction: Some(Next)}, problem: "default_action"},
		{name: "bad label is refused", patch: FirewallPatch{Labels: Some(map[string]*string{"env": ptr("a b")})}, problem: "labels.env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cur.Labels["site"]
			got, err := tt.patch.Apply(cur)
			if cur.Labels["site"] != before || len(cur.Labels) != 2 {
				t.Fatalf("Apply changed the current firewall's labels: %v", cur.Labels)
			}
			checkPatchResult(t, got, err, tt.want, tt.problem)
		})
	}
}

func TestPolicyPatchApply(t *testing.T) {
	cur := Policy{Meta: Meta{ID: "p1"}, FirewallID: "f1", Name: "p", Description: "d", Priority: 10,
		DefaultAction: Deny, Enabled: false}
	tests := []struct {
		name    string
		patch   PolicyPatch
		want    Policy
		problem string
	}{
		{name: "priority zero is a value", patch: PolicyPatch{Priority: Some(0)},
			want: Policy{Meta: cur.Meta, FirewallID: "f1", Name: "p", Description: "d", DefaultAction: Deny}},
		{name: "null resets to the defaults",
			patch: PolicyPatch{Description: Null[string](), DefaultAction: Null[Action](), Enabled: Null[bool]()},
			want:  Policy{Meta: cur.Meta, FirewallID: "f1", Name: "p", Priority: 10, DefaultAction: Next, Enabled: true}},
		{name: "null priority is refused", patch: PolicyPatch{Priority: Null[int]()}, problem: "priority"},
		{name: "reject is no policy default", patch: PolicyPatch{DefaultAction: Some(Reject)}, problem: "default_action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.patch.Apply(cur)
			checkPatchResult(t, got, err, tt.want, tt.problem)
		})
	}
}

func TestRulePatchApply(t *testing.T) {
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	cur := Rule{Meta: Meta{ID: "r1"}, FirewallID: "f1", PolicyID: "p1", Name: "web", Position: 3, Action: Allow,
		Protocol: TCP, Sources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		DestinationPorts: []PortRange{{Low: 443, High: 443}}, Enabled: false, ExpiresAt: &exp}
	later := time.Date(2031, 6, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	laterStored := time.Date(2031, 6, 1, 11, 0, 0, 123456000, time.UTC)
	tests := []struct {
		name    string
		patch   RulePatch
		want    Rule
		problem string
	}{
		{name: "lists are replaced whole; the position stays",
			patch: RulePatch{Sources: Some([]string{"192.0.2.1"}), Action: Some(Deny)},
			want: Rule{Meta: cur.Meta, FirewallID: "f1", PolicyID: "p1", Name: "web", Position: 3, Action: Deny, Protocol: TCP,
				Sources: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}, Destinations: []netip.Prefix{},
				SourcePorts: []PortRange{}, DestinationPorts: []PortRange{{Low: 443, High: 443}}, ExpiresAt: &exp}},
		{name: "null resets to the defaults",
			patch: RulePatch{Name: Null[string](), Protocol: Null[Protocol](), DestinationPorts: Null[[]string](),
				Sources: Some([]string{}), Enabled: Null[bool](), ExpiresAt: Null[time.Time]()},
			want: Rule{Meta: cur.Meta, FirewallID: "f1", PolicyID: "p1", Position: 3, Action: Allow, Protocol: AnyProtocol,
				Sources: []netip.Prefix{}, Destinations: []netip.Prefix{}, SourcePorts: []PortRange{},
				DestinationPorts: []PortRange{}, Enabled: true}},
		{name: "expiry is kept in UTC to the microsecond", patch: RulePatch{ExpiresAt: Some(later)},
			want: Rule{Meta: cur.Meta, FirewallID: "f1", PolicyID: "p1", Name: "web", Position: 3, Action: Allow, Protocol: TCP,
				Sources: cur.Sources, Destinations: []netip.Prefix{}, SourcePorts: []PortRange{},
				DestinationPorts: cur.DestinationPorts, ExpiresAt: &laterStored}},
		{name: "null action is refused", patch: RulePatch{Action: Null[Action]()}, problem: "action"},
		{name: "ports with icmp are refused", patch: RulePatch{Protocol: Some(ICMP)}, problem: "destination_ports"},
		{name: "host bits are refused", patch: RulePatch{Sources: Some([]string{"10.1.0.0/8"})}, problem: "sources[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.patch.Apply(cur)
			checkPatchResult(t, got, err, tt.want, tt.problem)
		})
	}
}

func checkPatchResult[T any](t *testing.T, got T, err error, want T, problem string) {
	t.Helper()
	if problem != "" {
		var de *Error
		if !errors.As(err, &de) || de.Code != CodeInvalid {
			t.Fatalf("got %v, want an invalid-input error at %s", err, problem)
		}
		for _, p := range de.Problems {
			if p.Location == problem {
				return
			}
		}
		t.Fatalf("problems %+v name no %s", de.Problems, problem)
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
