package firewall

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.0.0.1", want: "10.0.0.1/32"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:DB8::1", want: "2001:db8::1/128"},
		{in: "::/0", want: "::/0"},
		{in: "10.0.0.1/8", wantErr: "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
		{in: "2001:db8::1/32", wantErr: "did you mean 2001:db8::/32?"},
		{in: "10.0.0.0/33", wantErr: "not a valid CIDR"},
		{in: "10.0.0", wantErr: "not an IPv4 or IPv6 address"},
		{in: "", wantErr: "not an IPv4 or IPv6 address"},
		{in: " 10.0.0.1", wantErr: "not an IPv4 or IPv6 address"},
		{in: "010.0.0.1", wantErr: "not an IPv4 or IPv6 address"},
		{in: "fe80::1%eth0", wantErr: "zone"},
		{in: "::ffff:10.0.0.1", wantErr: "IPv4-mapped"},
		{in: "10.0.0.0/-1", wantErr: "not a valid CIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePrefix(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePrefix(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("ParsePrefix(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr string
	}{
		{in: "443", want: PortRange{443, 443}},
		{in: "1", want: PortRange{1, 1}},
		{in: "65535", want: PortRange{65535, 65535}},
		{in: "1024-65535", want: PortRange{1024, 65535}},
		{in: "80-80", want: PortRange{80, 80}},
		{in: "0", wantErr: "port 0 is out of range"},
		{in: "65536", wantErr: "port 65536 is out of range"},
		{in: "99999999999999999999", wantErr: "out of range"},
		{in: "9-2", wantErr: `did you mean "2-9"?`},
		{in: "", wantErr: "expected a port"},
		{in: "-", wantErr: "expected a port"},
		{in: "80-", wantErr: "expected a port"},
		{in: "http", wantErr: "not a port number"},
		{in: "+80", wantErr: "not a port number"},
		{in: "1-2-3", wantErr: "not a port number"},
		{in: " 80", wantErr: "not a port number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePortRange(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePortRange(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePortRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseListsReportEveryBadEntry(t *testing.T) {
	var ps Problems
	prefixes := ParsePrefixes("sources", []string{"10.0.0.0/8", "10.0.0.1/8", "10.0.0.0/8", "x"}, &ps)
	ports := ParsePortRanges("destination_ports", []string{"443", "0", "443"}, &ps)
	if len(prefixes) != 1 || len(ports) != 1 {
		t.Fatalf("kept %v and %v, want one good entry each", prefixes, ports)
	}
	want := []string{"sources[1]", "sources[2]", "sources[3]", "destination_ports[1]", "destination_ports[2]"}
	if len(ps) != len(want) {
		t.Fatalf("got problems %v, want locations %v", ps, want)
	}
	for i, p := range ps {
		if p.Location != want[i] {
			t.Errorf("problem %d at %q, want %q", i, p.Location, want[i])
		}
	}
}

func TestParseListsLimitEntries(t *testing.T) {
	var ps Problems
	in := make([]string, MaxListEntries+1)
	for i := range in {
		in[i] = netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
	}
	ParsePrefixes("sources", in, &ps)
	if len(ps) != 1 || ps[0].Location != "sources" {
		t.Fatalf("got %v, want one problem at sources", ps)
	}
}

// FuzzParsePrefix checks that any input either fails cleanly or yields a
// canonical prefix that parses back to itself.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.0.0.1", "2001:db8::/32", "10.0.0.1/8", "fe80::1%eth0", "::ffff:1.2.3.4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			return
		}
		if p != p.Masked() {
			t.Fatalf("ParsePrefix(%q) = %v, which has host bits set", s, p)
		}
		again, err := ParsePrefix(p.String())
		if err != nil || again != p {
			t.Fatalf("canonical form %q of %q does not parse back: %v, %v", p, s, again, err)
		}
	})
}

// FuzzParsePortRange checks that any input either fails cleanly or yields
// a valid range whose text form parses back to itself.
func FuzzParsePortRange(f *testing.F) {
	for _, s := range []string{"443", "1024-65535", "0", "65536", "9-2", "-", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePortRange(s)
		if err != nil {
			return
		}
		if r.Low < 1 || r.Low > r.High {
			t.Fatalf("ParsePortRange(%q) = %v, not a valid range", s, r)
		}
		again, err := ParsePortRange(r.String())
		if err != nil || again != r {
			t.Fatalf("text form %q of %q does not parse back: %v, %v", r, s, again, err)
		}
	})
}
