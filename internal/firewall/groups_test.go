package firewall

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestGroupsExpandNestingOnce(t *testing.T) {
	p := netip.MustParsePrefix
	g := Groups{Address: map[string]AddressGroup{
		"web":  {Addresses: []netip.Prefix{p("10.0.0.0/24")}, Groups: []GroupRef{{ID: "dmz"}}},
		"dmz":  {Addresses: []netip.Prefix{p("192.0.2.0/24"), p("10.0.0.0/24")}, Groups: []GroupRef{{ID: "loop"}}},
		"loop": {Addresses: []netip.Prefix{p("2001:db8::/32")}, Groups: []GroupRef{{ID: "web"}}},
	}}
	got := g.Addresses("web")
	want := []netip.Prefix{p("10.0.0.0/24"), p("192.0.2.0/24"), p("2001:db8::/32")}
	if !slices.Equal(got, want) {
		t.Fatalf("Addresses(web) = %v, want %v", got, want)
	}
	r := Rule{Sources: []netip.Prefix{p("198.51.100.1/32"), p("192.0.2.0/24")}, SourceGroups: []GroupRef{{ID: "dmz"}}}
	src := g.RuleSources(&r)
	want = []netip.Prefix{p("198.51.100.1/32"), p("192.0.2.0/24"), p("10.0.0.0/24"), p("2001:db8::/32")}
	if !slices.Equal(src, want) {
		t.Fatalf("RuleSources = %v, want %v", src, want)
	}
	if got := g.RuleDestinations(&r); got != nil {
		t.Fatalf("RuleDestinations without groups = %v, want the literal (nil)", got)
	}
}

func TestServiceMatches(t *testing.T) {
	https := Service{Protocol: TCP, Ports: []PortRange{{Low: 443, High: 443}}}
	tests := []struct {
		s     Service
		proto Protocol
		port  uint16
		want  bool
	}{
		{https, TCP, 443, true},
		{https, TCP, 80, false},
		{https, UDP, 443, false},
		{Service{Protocol: UDP}, UDP, 53, true},
		{Service{Protocol: AnyProtocol}, ICMP, 0, true},
	}
	for _, tc := range tests {
		if got := tc.s.Matches(tc.proto, tc.port); got != tc.want {
			t.Errorf("%v.Matches(%s, %d) = %v, want %v", tc.s, tc.proto, tc.port, got, tc.want)
		}
	}
}

func TestGroupValidation(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
		loc  string
	}{
		{"address group without name", func() error { g := AddressGroup{}; return g.Validate() }, "name"},
		{"reference without id or name", func() error {
			g := AddressGroup{Name: "a", Groups: []GroupRef{{}}}
			return g.Validate()
		}, "groups[0]"},
		{"ports on icmp", func() error {
			g := ServiceGroup{Name: "s", Services: []Service{{Protocol: ICMP, Ports: []PortRange{{Low: 1, High: 2}}}}}
			return g.Validate()
		}, "services[0].ports"},
		{"rule with service groups and a protocol", func() error {
			r := Rule{Action: Allow, Protocol: TCP, ServiceGroups: []GroupRef{{Name: "https"}}}
			return r.Validate()
		}, "service_groups"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("accepted")
			}
			var e *Error
			if !errors.As(err, &e) || !slices.ContainsFunc(e.Problems, func(p Problem) bool { return p.Location == tc.loc }) {
				t.Fatalf("err = %v, want a problem at %s", err, tc.loc)
			}
		})
	}
}
