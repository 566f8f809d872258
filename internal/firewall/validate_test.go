package firewall

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// problemsOf returns the problems of a validation error, by location.
func problemsOf(t *testing.T, err error) map[string]string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInvalid {
		t.Fatalf("error %v is not an invalid-input *Error", err)
	}
	out := map[string]string{}
	for _, p := range e.Problems {
		out[p.Location] = p.Message
	}
	return out
}

func TestFirewallValidate(t *testing.T) {
	long := strings.Repeat("x", MaxNameLen+1)
	tooMany := map[string]string{}
	for i := range MaxLabels + 1 {
		tooMany["k"+strings.Repeat("a", i%50)+string(rune('a'+i%26))+"x"] = "v"
	}
	tests := []struct {
		name   string
		change func(*Firewall)
		want   []string // locations with a problem
	}{
		{"valid", func(*Firewall) {}, nil},
		{"blank name", func(f *Firewall) { f.Name = "" }, []string{"name"}},
		{"long name", func(f *Firewall) { f.Name = long }, []string{"name"}},
		{"unicode name at the limit", func(f *Firewall) { f.Name = strings.Repeat("é", MaxNameLen) }, nil},
		{"padded name", func(f *Firewall) { f.Name = "edge " }, []string{"name"}},
		{"control character", func(f *Firewall) { f.Name = "ed\x00ge" }, []string{"name"}},
		{"long description", func(f *Firewall) { f.Description = strings.Repeat("d", MaxDescriptionLen+1) }, []string{"description"}},
		{"bad action", func(f *Firewall) { f.DefaultAction = Next }, []string{"default_action"}},
		{"prefixed label", func(f *Firewall) { f.Labels = map[string]string{"example.com/team": "net-ops"} }, nil},
		{"bad label key", func(f *Firewall) { f.Labels = map[string]string{"-env": "prod"} }, []string{"labels.-env"}},
		{"bad label prefix", func(f *Firewall) { f.Labels = map[string]string{"Example.com/team": "x"} }, []string{"labels.Example.com/team"}},
		{"long label name", func(f *Firewall) { f.Labels = map[string]string{strings.Repeat("a", 64): "x"} }, []string{"labels." + strings.Repeat("a", 64)}},
		{"bad label value", func(f *Firewall) { f.Labels = map[string]string{"env": "prod env"} }, []string{"labels.env"}},
		{"empty label value", func(f *Firewall) { f.Labels = map[string]string{"env": ""} }, nil},
		{"too many labels", func(f *Firewall) { f.Labels = tooMany }, []string{"labels"}},
		{"every problem at once", func(f *Firewall) { f.Name, f.DefaultAction = "", "maybe" }, []string{"name", "default_action"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFirewall()
			f.Name = "edge"
			tt.change(&f)
			got := problemsOf(t, f.Validate())
			assertLocations(t, got, tt.want)
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Policy)
		want   []string
	}{
		{"valid", func(*Policy) {}, nil},
		{"priority 0", func(p *Policy) { p.Priority = 0 }, nil},
		{"priority max", func(p *Policy) { p.Priority = MaxPriority }, nil},
		{"priority negative", func(p *Policy) { p.Priority = -1 }, []string{"priority"}},
		{"priority too high", func(p *Policy) { p.Priority = MaxPriority + 1 }, []string{"priority"}},
		{"reject is not a default", func(p *Policy) { p.DefaultAction = Reject }, []string{"default_action"}},
		{"no name", func(p *Policy) { p.Name = "" }, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPolicy()
			p.Name, p.Priority = "baseline", 100
			tt.change(&p)
			assertLocations(t, problemsOf(t, p.Validate()), tt.want)
		})
	}
}

func TestRuleValidate(t *testing.T) {
	expiry := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		change func(*Rule)
		want   []string
	}{
		{"valid", func(*Rule) {}, nil},
		{"unnamed", func(r *Rule) { r.Name = "" }, nil},
		{"padded name", func(r *Rule) { r.Name = " x" }, []string{"name"}},
		{"no action", func(r *Rule) { r.Action = "" }, []string{"action"}},
		{"next is not a rule action", func(r *Rule) { r.Action = Next }, []string{"action"}},
		{"bad protocol", func(r *Rule) { r.Protocol = "sctp" }, []string{"protocol"}},
		{"ports with icmp", func(r *Rule) { r.Protocol = ICMP }, []string{"destination_ports"}},
		{"ports with any", func(r *Rule) { r.Protocol, r.SourcePorts = AnyProtocol, []PortRange{{1, 2}} }, []string{"source_ports", "destination_ports"}},
		{"udp ports", func(r *Rule) { r.Protocol = UDP }, nil},
		{"icmp without ports", func(r *Rule) { r.Protocol, r.DestinationPorts = ICMPv6, nil }, nil},
		{"negative position", func(r *Rule) { r.Position = -1 }, []string{"position"}},
		{"expiry", func(r *Rule) { r.ExpiresAt = &expiry }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRule()
			r.Name, r.Action, r.Protocol = "allow-https", Allow, TCP
			r.Destinations = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
			r.DestinationPorts = []PortRange{{443, 443}}
			tt.change(&r)
			assertLocations(t, problemsOf(t, r.Validate()), tt.want)
		})
	}
}

func TestRuleExpired(t *testing.T) {
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	r := Rule{ExpiresAt: &at}
	if r.Expired(at.Add(-time.Nanosecond)) || !r.Expired(at) || !r.Expired(at.Add(time.Hour)) {
		t.Fatal("a rule expires exactly at expires_at")
	}
	if (&Rule{}).Expired(at) {
		t.Fatal("a rule without expiry never expires")
	}
}

func TestErrorCodes(t *testing.T) {
	err := NotFound("firewall", "x")
	if CodeOf(err) != CodeNotFound || CodeOf(errors.New("plain")) != "" {
		t.Fatal("CodeOf does not find codes")
	}
	wrapped := Unavailable(errors.New("connection refused"))
	if CodeOf(wrapped) != CodeUnavailable || !strings.Contains(wrapped.Error(), "connection refused") {
		t.Fatalf("Unavailable lost its cause: %v", wrapped)
	}
}

func assertLocations(t *testing.T, got map[string]string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("problems %v, want exactly at %v", got, want)
	}
	for _, loc := range want {
		if _, ok := got[loc]; !ok {
			t.Fatalf("problems %v, want one at %q", got, loc)
		}
	}
}

func TestNameLookAlikes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		bad  bool
	}{
		{"plain space", "edge par1", false},
		{"accents", "édge-Zürich", false},
		{"right-to-left override", "edge\u202e1rap", true},
		{"zero-width space", "edge\u200bpar1", true},
		{"zero-width joiner", "edge\u200dpar1", true},
		{"byte order mark", "\ufeffedge", true},
		{"line separator", "edge\u2028par1", true},
		{"paragraph separator", "edge\u2029par1", true},
		{"no-break space", "edge\u00a0par1", true},
		{"ideographic space", "edge\u3000par1", true},
		{"soft hyphen", "ed\u00adge", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFirewall()
			f.Name = tt.in
			got := problemsOf(t, f.Validate())
			if _, bad := got["name"]; bad != tt.bad {
				t.Fatalf("Validate(%q) problems %v, want a name problem: %v", tt.in, got, tt.bad)
			}
			p := NewPolicy()
			p.Name = tt.in
			if _, bad := problemsOf(t, p.Validate())["name"]; bad != tt.bad {
				t.Fatalf("policy name %q: want a problem: %v", tt.in, tt.bad)
			}
			r := NewRule()
			r.Name, r.Action = tt.in, Allow
			if _, bad := problemsOf(t, r.Validate())["name"]; bad != tt.bad {
				t.Fatalf("rule name %q: want a problem: %v", tt.in, tt.bad)
			}
		})
	}
}

func TestNameNFC(t *testing.T) {
	decomposed, composed := "Cafe\u0301", "Caf\u00e9"
	f := NewFirewall()
	f.Name = decomposed
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if f.Name != composed {
		t.Fatalf("name %+q after Validate, want the NFC form %+q", f.Name, composed)
	}
	// Uniqueness compares case-insensitively after normalising, whatever
	// form each name arrives in.
	for _, pair := range [][2]string{{decomposed, composed}, {"CAFE\u0301", "caf\u00e9"}, {"\u00c9dge", "e\u0301dge"}} {
		if a, b := NameKey(pair[0]), NameKey(pair[1]); a != b {
			t.Errorf("NameKey(%+q) = %+q, NameKey(%+q) = %+q; want equal", pair[0], a, pair[1], b)
		}
	}
	if NameKey("cafe") == NameKey(composed) {
		t.Errorf("NameKey folds accents away; it must only fold case")
	}
}
