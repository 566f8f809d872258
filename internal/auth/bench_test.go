package auth

import (
	"crypto"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkVerifyHS256 measures the cost auth adds to each request: cached is
// the steady state (one token per client, reused), uncached is the first
// sight of a token.
func BenchmarkVerifyHS256(b *testing.B) {
	clock := newTestClock(time.Now())
	tok, err := Mint([]byte(testSecret), "alice", []string{"editor"}, time.Hour, testIssuer, testAudience, clock.Now())
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{HS256Secret: []byte(testSecret), Issuer: testIssuer, Audience: testAudience, Now: clock.Now}

	b.Run("cached", func(b *testing.B) {
		v := mustVerifier(b, cfg)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		v := mustVerifier(b, cfg)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(b.Context(), tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("uncached", func(b *testing.B) {
		v := mustVerifier(b, cfg)
		v.cache = nil
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rejected-bad-signature", func(b *testing.B) {
		v := mustVerifier(b, cfg)
		bad := tok[:len(tok)-2] + "AA"
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(b.Context(), bad); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

// BenchmarkVerifyJWKS measures uncached asymmetric verification through the
// JWKS key lookup, for comparison with HS256.
func BenchmarkVerifyJWKS(b *testing.B) {
	f := newFixture(b)
	f.jwksOnly.cache = nil
	for _, tc := range []struct {
		method jwt.SigningMethod
		key    crypto.Signer
		kid    string
	}{
		{jwt.SigningMethodRS256, f.keys.rsa, "rsa-1"},
		{jwt.SigningMethodES256, f.keys.ec, "ec-1"},
		{jwt.SigningMethodEdDSA, f.keys.ed, "ed-1"},
	} {
		tok := sign(b, tc.method, tc.key, tc.kid, f.claims(nil))
		b.Run(tc.method.Alg()+"/uncached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.jwksOnly.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
