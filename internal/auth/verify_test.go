package auth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestVerifyRejectsAttacks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k := f.keys

	pubDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})

	hs := func(edits map[string]any) string {
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", f.claims(edits))
	}
	rs := func(kid string, edits map[string]any) string {
		return sign(t, jwt.SigningMethodRS256, k.rsa, kid, f.claims(edits))
	}
	good := hs(nil)
	goodRS := rs("rsa-1", nil)
	payloadAdmin := b64(`{"iss":"` + testIssuer + `","aud":"` + testAudience + `","sub":"alice","roles":["admin"],"iat":` +
		itoa(f.clock.Now().Unix()) + `,"exp":` + itoa(f.clock.At(time.Hour).Unix()) + `}`)
	tamper := func(tok string) string {
		h, _, s := segments(t, tok)
		return h + "." + payloadAdmin + "." + s
	}
	flipSig := func(tok string) string {
		h, p, s := segments(t, tok)
		sig, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)/2] ^= 0x01
		return h + "." + p + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	_, goodPayload, _ := segments(t, good)
	hsHeader := b64(`{"alg":"HS256","typ":"JWT"}`)
	minute := time.Minute

	tests := []struct {
		name string
		v    *Verifier
		tok  string
		want Reason
	}{
		{"empty", f.both, "", ReasonMissing},
		{"alg none", f.both, b64(`{"alg":"none","typ":"JWT"}`) + "." + goodPayload + ".", ReasonBadAlgorithm},
		{"alg none, HS only", f.hs, b64(`{"alg":"none"}`) + "." + goodPayload + ".", ReasonBadAlgorithm},
		{"alg None (unregistered)", f.both, b64(`{"alg":"None"}`) + "." + goodPayload + ".", ReasonBadAlgorithm},
		{"alg missing", f.both, b64(`{"typ":"JWT"}`) + "." + goodPayload + ".", ReasonBadAlgorithm},
		{"alg not a string", f.both, b64(`{"alg":256}`) + "." + goodPayload + ".", ReasonBadAlgorithm},
		{"confusion: HS256 keyed with RSA PEM, HS+JWKS", f.both, sign(t, jwt.SigningMethodHS256, pubPEM, "rsa-1", f.claims(nil)), ReasonBadSignature},
		{"confusion: HS256 keyed with RSA DER, HS+JWKS", f.both, sign(t, jwt.SigningMethodHS256, pubDER, "rsa-1", f.claims(nil)), ReasonBadSignature},
		{"confusion: HS256 keyed with RSA PKCS1 PEM, HS+JWKS", f.both, sign(t, jwt.SigningMethodHS256, pkcs1PEM, "rsa-1", f.claims(nil)), ReasonBadSignature},
		{"confusion: HS256 keyed with RSA PEM, JWKS only", f.jwksOnly, sign(t, jwt.SigningMethodHS256, pubPEM, "rsa-1", f.claims(nil)), ReasonBadAlgorithm},
		{"confusion: HS256 keyed with RSA DER, JWKS only", f.jwksOnly, sign(t, jwt.SigningMethodHS256, pubDER, "rsa-1", f.claims(nil)), ReasonBadAlgorithm},
		{"confusion: HS256 keyed with RSA PEM, no kid, JWKS only", f.jwksOnly, sign(t, jwt.SigningMethodHS256, pubPEM, "", f.claims(nil)), ReasonBadAlgorithm},
		{"expired", f.both, hs(map[string]any{"exp": f.clock.At(-2 * minute).Unix(), "iat": f.clock.At(-time.Hour).Unix(), "nbf": f.clock.At(-time.Hour).Unix()}), ReasonExpired},
		{"expired RS256", f.both, rs("rsa-1", map[string]any{"exp": f.clock.At(-2 * minute).Unix()}), ReasonExpired},
		{"expired just past leeway", f.hs, hs(map[string]any{"exp": f.clock.At(-31 * time.Second).Unix()}), ReasonExpired},
		{"nbf in the future", f.both, hs(map[string]any{"nbf": f.clock.At(2 * minute).Unix()}), ReasonNotYetValid},
		{"iat in the future", f.both, hs(map[string]any{"iat": f.clock.At(2 * minute).Unix()}), ReasonNotYetValid},
		{"no exp", f.both, hs(map[string]any{"exp": nil}), ReasonBadClaims},
		{"exp null", f.both, hs(map[string]any{"exp": json.RawMessage("null")}), ReasonBadClaims},
		{"exp a string", f.both, hs(map[string]any{"exp": "tomorrow"}), ReasonBadClaims},
		{"wrong iss", f.both, hs(map[string]any{"iss": "https://evil.test"}), ReasonBadIssuer},
		{"no iss", f.both, hs(map[string]any{"iss": nil}), ReasonBadIssuer},
		{"wrong aud", f.both, hs(map[string]any{"aud": "someone-else"}), ReasonBadAudience},
		{"wrong aud list", f.both, hs(map[string]any{"aud": []string{"a", "b"}}), ReasonBadAudience},
		{"no aud", f.both, hs(map[string]any{"aud": nil}), ReasonBadAudience},
		{"tampered payload HS256", f.both, tamper(good), ReasonBadSignature},
		{"tampered payload RS256", f.both, tamper(goodRS), ReasonBadSignature},
		{"bad signature HS256", f.both, flipSig(good), ReasonBadSignature},
		{"bad signature RS256", f.jwksOnly, flipSig(goodRS), ReasonBadSignature},
		{"empty signature", f.both, strings.TrimSuffix(good, good[strings.LastIndexByte(good, '.')+1:]), ReasonBadSignature},
		{"unknown kid", f.jwksOnly, sign(t, jwt.SigningMethodRS256, k.rsaOther, "rsa-unknown", f.claims(nil)), ReasonUnknownKey},
		{"known kid, other key", f.jwksOnly, sign(t, jwt.SigningMethodRS256, k.rsaOther, "rsa-1", f.claims(nil)), ReasonBadSignature},
		{"no kid, other key", f.jwksOnly, sign(t, jwt.SigningMethodRS256, k.rsaOther, "", f.claims(nil)), ReasonBadSignature},
		{"kid not a string", f.jwksOnly, signHeader(t, jwt.SigningMethodRS256, k.rsa, map[string]any{"kid": 7}, f.claims(nil)), ReasonUnknownKey},
		{"embedded jwk header is ignored", f.jwksOnly, signHeader(t, jwt.SigningMethodRS256, k.rsaOther, map[string]any{"jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, f.claims(nil)), ReasonBadSignature},
		{"ES256 token naming the RSA kid", f.jwksOnly, sign(t, jwt.SigningMethodES256, k.ec, "rsa-1", f.claims(nil)), ReasonUnknownKey},
		{"ES256 token naming an RSA kid without alg", f.jwksOnly, sign(t, jwt.SigningMethodES256, k.ec, "rsa-noalg", f.claims(nil)), ReasonBadAlgorithm},
		{"RS256 with a published 1024-bit key", f.jwksOnly, sign(t, jwt.SigningMethodRS256, k.rsaWeak, "rsa-weak", f.claims(nil)), ReasonBadAlgorithm},
		{"HS256 with the JWKS HMAC key, HS+JWKS", f.both, sign(t, jwt.SigningMethodHS256, []byte(testOctKey), "oct-1", f.claims(nil)), ReasonBadSignature},
		{"HS256 with the JWKS HMAC key, JWKS only", f.jwksOnly, sign(t, jwt.SigningMethodHS256, []byte(testOctKey), "oct-1", f.claims(nil)), ReasonBadAlgorithm},
		{"RS256 header naming the JWKS HMAC key", f.jwksOnly, signHeader(t, jwt.SigningMethodHS256, []byte(testOctKey), map[string]any{"kid": "oct-1", "alg": "RS256"}, f.claims(nil)), ReasonUnknownKey},
		{"PS256 with the JWKS RSA key", f.both, sign(t, jwt.SigningMethodPS256, k.rsa, "rsa-1", f.claims(nil)), ReasonBadAlgorithm},
		{"RS512 with the JWKS RSA key", f.both, sign(t, jwt.SigningMethodRS512, k.rsa, "rsa-1", f.claims(nil)), ReasonBadAlgorithm},
		{"HS512 with the right secret", f.both, sign(t, jwt.SigningMethodHS512, []byte(testSecret), "", f.claims(nil)), ReasonBadAlgorithm},
		{"RS256 when only HS256 is configured", f.hs, goodRS, ReasonBadAlgorithm},
		{"ES256 when only HS256 is configured", f.hs, sign(t, jwt.SigningMethodES256, k.ec, "ec-1", f.claims(nil)), ReasonBadAlgorithm},
		{"HS256 with a different secret", f.both, sign(t, jwt.SigningMethodHS256, []byte("another-secret-of-at-least-32-bytes!"), "", f.claims(nil)), ReasonBadSignature},
		{"too large", f.both, hs(map[string]any{"pad": strings.Repeat("x", MaxTokenBytes)}), ReasonTooLarge},
		{"too large junk", f.both, strings.Repeat("a", MaxTokenBytes+1), ReasonTooLarge},
		{"1 segment", f.both, "abc", ReasonMalformed},
		{"2 segments", f.both, hsHeader + "." + goodPayload, ReasonMalformed},
		{"4 segments", f.both, good + ".AAAA", ReasonMalformed},
		{"bad base64 header", f.both, "!!!." + goodPayload + ".AAAA", ReasonMalformed},
		{"bad base64 payload", f.both, hsHeader + ".%%%.AAAA", ReasonMalformed},
		{"bad base64 signature", f.both, hsHeader + "." + goodPayload + ".***", ReasonMalformed},
		{"padded base64 signature", f.both, good + "=", ReasonMalformed},
		{"bad JSON header", f.both, b64(`{"alg":"HS256"`) + "." + goodPayload + ".AAAA", ReasonMalformed},
		{"header not an object", f.both, b64(`["HS256"]`) + "." + goodPayload + ".AAAA", ReasonMalformed},
		{"payload not an object", f.both, hsHeader + "." + b64(`[1,2]`) + ".AAAA", ReasonMalformed},
		{"Bearer prefix left on", f.both, "Bearer " + good, ReasonMalformed},
		{"roles a string", f.both, hs(map[string]any{"roles": "admin"}), ReasonBadClaims},
		{"roles a number", f.both, hs(map[string]any{"roles": 3}), ReasonBadClaims},
		{"roles an object", f.both, hs(map[string]any{"roles": map[string]any{"admin": true}}), ReasonBadClaims},
		{"roles [1,2]", f.both, hs(map[string]any{"roles": []int{1, 2}}), ReasonBadClaims},
		{"roles with a null", f.both, hs(map[string]any{"roles": []any{"admin", nil}}), ReasonBadClaims},
		{"roles nested", f.both, hs(map[string]any{"roles": []any{[]string{"admin"}}}), ReasonBadClaims},
		{"roles a string, RS256", f.both, rs("rsa-1", map[string]any{"roles": "admin"}), ReasonBadClaims},
		{"empty sub", f.both, hs(map[string]any{"sub": ""}), ReasonBadClaims},
		{"no sub", f.both, hs(map[string]any{"sub": nil}), ReasonBadClaims},
		{"sub a number", f.both, hs(map[string]any{"sub": 42}), ReasonBadClaims},
		{"iss a number", f.hs, hs(map[string]any{"iss": 1}), ReasonBadIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := tc.v.Verify(t.Context(), tc.tok)
			checkRejected(t, p, err, tc.tok, tc.want)
		})
	}
}

func TestVerifyAcceptsGoodTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	k := f.keys
	hs := func(edits map[string]any) string {
		return sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", f.claims(edits))
	}
	sec := time.Second

	tests := []struct {
		name      string
		v         *Verifier
		tok       string
		wantRoles []string
		wantRole  Role
	}{
		{"HS256 viewer", f.hs, hs(map[string]any{"roles": []string{"viewer"}}), []string{"viewer"}, Viewer},
		{"HS256 editor", f.hs, hs(map[string]any{"roles": []string{"editor"}}), []string{"editor"}, Editor},
		{"HS256 admin", f.hs, hs(map[string]any{"roles": []string{"admin"}}), []string{"admin"}, Admin},
		{"HS256 admin, HS+JWKS", f.both, hs(map[string]any{"roles": []string{"admin"}}), []string{"admin"}, Admin},
		{"highest of several", f.hs, hs(map[string]any{"roles": []string{"viewer", "admin", "editor"}}), []string{"viewer", "admin", "editor"}, Admin},
		{"unknown roles kept, grant nothing", f.hs, hs(map[string]any{"roles": []string{"superuser", "Admin", "viewer"}}), []string{"superuser", "Admin", "viewer"}, Viewer},
		{"only unknown roles", f.hs, hs(map[string]any{"roles": []string{"root"}}), []string{"root"}, ""},
		{"empty roles", f.hs, hs(map[string]any{"roles": []string{}}), []string{}, ""},
		{"no roles claim", f.hs, hs(map[string]any{"roles": nil}), nil, ""},
		{"differently cased claim is ignored", f.hs, hs(map[string]any{"Roles": []string{"admin"}, "roles": []string{"viewer"}}), []string{"viewer"}, Viewer},
		{"RS256 via JWKS", f.jwksOnly, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", f.claims(nil)), []string{"editor"}, Editor},
		{"RS256 via JWKS, HS+JWKS", f.both, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-1", f.claims(nil)), []string{"editor"}, Editor},
		{"RS256 via a JWK without alg", f.jwksOnly, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-noalg", f.claims(nil)), []string{"editor"}, Editor},
		{"RS256 without kid", f.jwksOnly, sign(t, jwt.SigningMethodRS256, k.rsa, "", f.claims(nil)), []string{"editor"}, Editor},
		{"ES256 via JWKS", f.jwksOnly, sign(t, jwt.SigningMethodES256, k.ec, "ec-1", f.claims(nil)), []string{"editor"}, Editor},
		{"ES256 without kid", f.both, sign(t, jwt.SigningMethodES256, k.ec, "", f.claims(nil)), []string{"editor"}, Editor},
		{"EdDSA via JWKS", f.jwksOnly, sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", f.claims(nil)), []string{"editor"}, Editor},
		{"EdDSA via JWKS, HS+JWKS", f.both, sign(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", f.claims(map[string]any{"roles": []string{"admin"}})), []string{"admin"}, Admin},
		{"expired 10s ago, within the 30s leeway", f.hs, hs(map[string]any{"exp": f.clock.At(-10 * sec).Unix(), "iat": f.clock.At(-time.Hour).Unix(), "nbf": nil}), []string{"editor"}, Editor},
		{"nbf 10s ahead, within leeway", f.hs, hs(map[string]any{"nbf": f.clock.At(10 * sec).Unix()}), []string{"editor"}, Editor},
		{"iat 10s ahead, within leeway", f.hs, hs(map[string]any{"iat": f.clock.At(10 * sec).Unix()}), []string{"editor"}, Editor},
		{"no iat, no nbf, no jti", f.hs, hs(map[string]any{"iat": nil, "nbf": nil, "jti": nil}), []string{"editor"}, Editor},
		{"aud list containing ours", f.hs, hs(map[string]any{"aud": []string{"other", testAudience}}), []string{"editor"}, Editor},
		{"fractional exp", f.hs, hs(map[string]any{"exp": float64(f.clock.At(time.Hour).Unix()) + 0.5}), []string{"editor"}, Editor},
		{"extra claims ignored", f.hs, hs(map[string]any{"email": "a@example.test", "scope": []any{1, "x"}}), []string{"editor"}, Editor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Twice: the second call is served from the cache and must agree.
			for i := range 2 {
				p, err := tc.v.Verify(t.Context(), tc.tok)
				if err != nil {
					t.Fatalf("call %d: Verify: %v", i, err)
				}
				if p.Subject != "alice" || p.Role != tc.wantRole || !slices.Equal(p.Roles, tc.wantRoles) {
					t.Fatalf("call %d: principal = %+v, want subject alice, roles %q, role %q", i, p, tc.wantRoles, tc.wantRole)
				}
				if (p.Roles == nil) != (tc.wantRoles == nil) {
					t.Fatalf("call %d: roles = %#v, want %#v", i, p.Roles, tc.wantRoles)
				}
			}
		})
	}
}

func TestVerifyLargestTokenAccepted(t *testing.T) {
	t.Parallel()
	clock := newTestClock(time.Now())
	v := mustVerifier(t, Config{HS256Secret: []byte(testSecret), Now: clock.Now})
	claims := jwt.MapClaims{"sub": "alice", "roles": []string{"viewer"}, "exp": clock.At(time.Hour).Unix()}
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims)
	// Grow a padding claim until the token is as long as allowed (raw base64
	// cannot reach every length, so settle for the longest that fits).
	best := ""
	for n := (MaxTokenBytes-len(tok))*3/4 - 16; ; n++ {
		claims["pad"] = strings.Repeat("x", n)
		s := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", claims)
		if len(s) > MaxTokenBytes {
			if _, err := v.Verify(t.Context(), s); err == nil {
				t.Fatalf("token of %d bytes accepted", len(s))
			}
			break
		}
		best = s
	}
	if len(best) < MaxTokenBytes-3 {
		t.Fatalf("longest token built is %d bytes", len(best))
	}
	if _, err := v.Verify(t.Context(), best); err != nil {
		t.Fatalf("token of %d bytes: %v", len(best), err)
	}
}

func TestRolesAndCan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		have, need Role
		want       bool
	}{
		{Admin, Admin, true}, {Admin, Editor, true}, {Admin, Viewer, true},
		{Editor, Admin, false}, {Editor, Editor, true}, {Editor, Viewer, true},
		{Viewer, Admin, false}, {Viewer, Editor, false}, {Viewer, Viewer, true},
		{"", Viewer, false}, {"", "", false}, {"root", Viewer, false},
		{Admin, "", false}, {Admin, "root", false}, {"ADMIN", Viewer, false},
		// Approver reads, and approves; editor does not approve; admin does.
		{Approver, Approver, true}, {Approver, Viewer, true}, {Approver, Editor, false}, {Approver, Admin, false},
		{Admin, Approver, true}, {Editor, Approver, false}, {Viewer, Approver, false}, {"", Approver, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.have)+">="+string(tc.need), func(t *testing.T) {
			t.Parallel()
			if got := tc.have.Allows(tc.need); got != tc.want {
				t.Errorf("%q.Allows(%q) = %v, want %v", tc.have, tc.need, got, tc.want)
			}
			p := Principal{Subject: "s", Roles: []string{string(tc.have)}, Role: tc.have}
			if got := p.Can(tc.need); got != tc.want {
				t.Errorf("Principal{Role: %q}.Can(%q) = %v, want %v", tc.have, tc.need, got, tc.want)
			}
		})
	}
	highest := []struct {
		names []string
		want  Role
	}{
		{nil, ""}, {[]string{"viewer"}, Viewer}, {[]string{"admin", "viewer"}, Admin},
		{[]string{"viewer", "editor"}, Editor}, {[]string{"x", "Editor"}, ""},
		{[]string{"approver"}, Approver}, {[]string{"approver", "editor"}, Editor},
	}
	for _, tc := range highest {
		if got := highestRole(tc.names); got != tc.want {
			t.Errorf("highestRole(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
	// A token holding editor and approver writes and approves.
	both := Principal{Subject: "s", Roles: []string{"editor", "approver"}, Role: highestRole([]string{"editor", "approver"})}
	for _, need := range []Role{Viewer, Editor, Approver} {
		if !both.Can(need) {
			t.Errorf("editor+approver cannot do what needs %s", need)
		}
	}
	if both.Can(Admin) {
		t.Error("editor+approver can do what needs admin")
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	reasons := []Reason{
		ReasonMissing, ReasonTooLarge, ReasonMalformed, ReasonBadSignature, ReasonUnknownKey, ReasonBadAlgorithm,
		ReasonExpired, ReasonNotYetValid, ReasonBadIssuer, ReasonBadAudience, ReasonBadClaims,
	}
	seen := map[string]Reason{}
	for _, r := range reasons {
		e := reject(r)
		if e.Message == messageFor("no such reason") {
			t.Errorf("reason %q has no message of its own", r)
		}
		if prev, dup := seen[e.Message]; dup {
			t.Errorf("reasons %q and %q share the message %q", prev, r, e.Message)
		}
		seen[e.Message] = r
		if want := "auth: " + string(r) + ": " + e.Message; e.Error() != want {
			t.Errorf("Error() = %q, want %q", e.Error(), want)
		}
	}
}

// signHeader is sign with extra header fields.
func signHeader(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	tb.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
