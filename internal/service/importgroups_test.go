package service

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/store"
)

// TestSameAddresses compares address sets however they are split, against
// a brute force over every address of a small universe.
func TestSameAddresses(t *testing.T) {
	p := func(ss ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(ss))
		for i, s := range ss {
			out[i] = netip.MustParsePrefix(s)
		}
		return out
	}
	tests := []struct {
		name string
		a, b []netip.Prefix
		want bool
	}{
		{"split halves", p("10.0.0.0/24"), p("10.0.0.128/25", "10.0.0.0/25"), true},
		{"covered", p("10.0.0.0/24", "10.0.0.5/32"), p("10.0.0.0/24"), true},
		{"adjacent not aligned", p("10.0.0.1/32", "10.0.0.2/31"), p("10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32"), true},
		{"one missing", p("10.0.0.0/24"), p("10.0.0.0/25"), false},
		{"families apart", p("0.0.0.0/0"), p("::/0"), false},
		{"end of v4 then v6", p("255.255.255.255/32", "::/128"), p("::/128", "255.255.255.255/32"), true},
		{"both empty", nil, p(), true},
		{"top of v6", p("ffff::/16"), p("ffff:8000::/17", "ffff::/17"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sameAddresses(tt.a, tt.b); got != tt.want {
				t.Fatalf("sameAddresses = %v, want %v", got, tt.want)
			}
		})
	}
	// Brute force over 10.0.0.0/28: every pair of random splits.
	universe := func(ps []netip.Prefix) [16]bool {
		var in [16]bool
		for i := range in {
			a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
			for _, q := range ps {
				if q.Contains(a) {
					in[i] = true
				}
			}
		}
		return in
	}
	var all []netip.Prefix
	for bits := 28; bits <= 32; bits++ {
		for i := 0; i < 16; i += 1 << (32 - bits) {
			all = append(all, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), bits))
		}
	}
	for x := range 1 << 6 {
		for y := range 1 << 6 {
			a, b := pick(all, x*7919), pick(all, y*104729)
			if got, want := sameAddresses(a, b), universe(a) == universe(b); got != want {
				t.Fatalf("%v vs %v: sameAddresses %v, brute force %v", a, b, got, want)
			}
		}
	}
}

// pick chooses some of all by the bits of seed.
func pick(all []netip.Prefix, seed int) []netip.Prefix {
	var out []netip.Prefix
	for i, p := range all {
		if (seed>>(i%20))&1 == 1 && (seed/(i+1))%3 != 0 {
			out = append(out, p)
		}
	}
	return out
}

// FuzzDecodeUsageToken: any token is either refused as a page_token
// problem or decodes to a key that encodes back to a token of the same
// key.
func FuzzDecodeUsageToken(f *testing.F) {
	const binding = "usage/address group/g1"
	f.Add(store.EncodeCursor(store.NewCursor(binding, []any{"fw", "pol", "rule", 1, 0})))
	f.Add(store.EncodeCursor(store.NewCursor(binding, []any{"fw", "pol", "rule", "x", 0})))
	f.Add(store.EncodeCursor(store.NewCursor(binding, []any{"fw"})))
	f.Add(store.EncodeCursor(store.NewCursor("other", []any{"fw", "pol", "rule", 1, 0})))
	f.Add("")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, token string) {
		k, err := decodeUsageToken(token, binding)
		if err != nil {
			var fe *firewall.Error
			if !asError(err, &fe) || fe.Code != firewall.CodeInvalid || len(fe.Problems) == 0 || fe.Problems[0].Location != "page_token" {
				t.Fatalf("token %q: %v, want an invalid page_token", token, err)
			}
			return
		}
		again := store.EncodeCursor(store.NewCursor(binding, []any{k.FirewallID, k.PolicyID, k.RuleID, k.Side, k.Position}))
		if k2, err := decodeUsageToken(again, binding); err != nil || k2 != k {
			t.Fatalf("token %q decodes to %+v, which re-encodes to %+v (%v)", token, k, k2, err)
		}
	})
}

func asError(err error, target **firewall.Error) bool { return errors.As(err, target) }
