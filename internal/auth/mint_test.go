package auth

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	secret, err := NewDevSecret()
	if err != nil {
		t.Fatal(err)
	}
	clock := newTestClock(time.Now())
	tests := []struct {
		name             string
		issuer, audience string
		roles            []string
		want             Role
	}{
		{"admin with iss and aud", testIssuer, testAudience, []string{"admin"}, Admin},
		{"viewer, no iss or aud", "", "", []string{"viewer"}, Viewer},
		{"several roles", testIssuer, "", []string{"viewer", "editor", "custom"}, Editor},
		{"no roles", "", testAudience, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := mustVerifier(t, Config{HS256Secret: []byte(secret), Issuer: tc.issuer, Audience: tc.audience, Now: clock.Now})
			tok, err := Mint([]byte(secret), "bob", tc.roles, 15*time.Minute, tc.issuer, tc.audience, clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify(Mint(...)): %v", err)
			}
			wantRoles := tc.roles
			if wantRoles == nil {
				wantRoles = []string{}
			}
			if p.Subject != "bob" || p.Role != tc.want || !slices.Equal(p.Roles, wantRoles) {
				t.Fatalf("principal = %+v", p)
			}
			var c jwt.MapClaims
			if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"sub", "roles", "iat", "nbf", "exp", "jti"} {
				if _, ok := c[name]; !ok {
					t.Errorf("minted token lacks %q", name)
				}
			}
			if _, ok := c["iss"]; ok != (tc.issuer != "") {
				t.Errorf("iss present = %v, issuer %q", ok, tc.issuer)
			}
			if _, ok := c["aud"]; ok != (tc.audience != "") {
				t.Errorf("aud present = %v, audience %q", ok, tc.audience)
			}
		})
	}
}

func TestMintExpiry(t *testing.T) {
	t.Parallel()
	clock := newTestClock(time.Now())
	v := mustVerifier(t, Config{HS256Secret: []byte(testSecret), Now: clock.Now, Leeway: time.Second})
	tok, err := Mint([]byte(testSecret), "bob", []string{"viewer"}, time.Minute, "", "", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute + 2*time.Second)
	p, err := v.Verify(t.Context(), tok)
	checkRejected(t, p, err, tok, ReasonExpired)
}

func TestMintUniqueJTI(t *testing.T) {
	t.Parallel()
	now := time.Now()
	a, err := Mint([]byte(testSecret), "bob", nil, time.Hour, "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Mint([]byte(testSecret), "bob", nil, time.Hour, "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two tokens minted at the same instant are identical; jti is not random")
	}
}

func TestMintErrors(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name   string
		secret []byte
		sub    string
		ttl    time.Duration
	}{
		{"short secret", []byte("short"), "bob", time.Hour},
		{"secret of 31 bytes", []byte(strings.Repeat("s", MinSecretBytes-1)), "bob", time.Hour},
		{"no secret", nil, "bob", time.Hour},
		{"empty sub", []byte(testSecret), "", time.Hour},
		{"zero ttl", []byte(testSecret), "bob", 0},
		{"negative ttl", []byte(testSecret), "bob", -time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tok, err := Mint(tc.secret, tc.sub, []string{"admin"}, tc.ttl, "", "", now); err == nil {
				t.Fatalf("Mint succeeded: %s", tok)
			}
		})
	}
}

func TestDevSecret(t *testing.T) {
	t.Parallel()
	a, err := NewDevSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewDevSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two dev secrets are equal")
	}
	for _, s := range []string{a, b} {
		if !strings.HasPrefix(s, DevSecretPrefix) || !IsDevSecret([]byte(s)) {
			t.Errorf("%q is not recognised as a dev secret", s)
		}
		if len(s)-len(DevSecretPrefix) < MinSecretBytes {
			t.Errorf("dev secret %q has less than %d characters after the prefix", s, MinSecretBytes)
		}
		if _, err := NewVerifier(t.Context(), Config{HS256Secret: []byte(s)}); err != nil {
			t.Errorf("a dev secret is refused by NewVerifier: %v", err)
		}
	}
	for _, s := range []string{"", "fireflow-dev", "FIREFLOW-DEV-abc", "prod-fireflow-dev-abc", testSecret} {
		if IsDevSecret([]byte(s)) {
			t.Errorf("IsDevSecret(%q) = true", s)
		}
	}
}
