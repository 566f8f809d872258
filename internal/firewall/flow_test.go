package firewall

import (
	"net/netip"
	"testing"
)

func TestProtocolFamilyProblem(t *testing.T) {
	tests := []struct {
		p    Protocol
		addr string
		bad  bool
	}{
		{ICMP, "10.0.0.1", false},
		{ICMP, "2001:db8::1", true},
		{ICMP, "::ffff:10.0.0.1", true}, // IPv4-mapped is IPv6
		{ICMPv6, "2001:db8::1", false},
		{ICMPv6, "10.0.0.1", true},
		{TCP, "10.0.0.1", false},
		{UDP, "2001:db8::1", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.p)+" "+tt.addr, func(t *testing.T) {
			if got := ProtocolFamilyProblem(tt.p, netip.MustParseAddr(tt.addr)); (got != "") != tt.bad {
				t.Fatalf("ProtocolFamilyProblem = %q, want a problem: %t", got, tt.bad)
			}
		})
	}
}
