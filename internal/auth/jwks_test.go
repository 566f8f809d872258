package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

func TestJWKSKeyRotation(t *testing.T) {
	t.Parallel()
	keyA, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyB, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, publicJWK(t, &keyA.PublicKey, "key-a", jwkset.AlgES256))
	clock := newTestClock(time.Now().Truncate(time.Second))
	v := mustVerifier(t, Config{JWKSURL: srv.URL(), Now: clock.Now, HTTPClient: srv.Client()})
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "alice", "roles": []string{"viewer"}, "iat": clock.Now().Unix(), "exp": clock.At(time.Hour).Unix()}
	}

	tokA := sign(t, jwt.SigningMethodES256, keyA, "key-a", claims())
	if _, err := v.Verify(t.Context(), tokA); err != nil {
		t.Fatalf("token signed by A, before rotation: %v", err)
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times after start, want 1", got)
	}

	// Rotate: the issuer now publishes B only.
	srv.setKeys(t, publicJWK(t, &keyB.PublicKey, "key-b", jwkset.AlgES256))

	tokB := sign(t, jwt.SigningMethodES256, keyB, "key-b", claims())
	p, err := v.Verify(t.Context(), tokB)
	if err != nil {
		t.Fatalf("token signed by B after rotation (unknown-kid refresh): %v", err)
	}
	if p.Subject != "alice" || p.Role != Viewer {
		t.Fatalf("principal = %+v", p)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times after rotation, want 2", got)
	}

	// The already-verified A token is reused for at most cacheReuse ...
	if _, err := v.Verify(t.Context(), tokA); err != nil {
		t.Fatalf("cached token signed by A, within the reuse window: %v", err)
	}
	// ... and a fresh A token is refused at once: A is gone from the key set.
	clock.Advance(time.Second)
	freshA := sign(t, jwt.SigningMethodES256, keyA, "key-a", claims())
	p, err = v.Verify(t.Context(), freshA)
	checkRejected(t, p, err, freshA, ReasonUnknownKey)

	// Past the reuse window, the old A token is verified again and refused.
	clock.Advance(cacheReuse)
	p, err = v.Verify(t.Context(), tokA)
	checkRejected(t, p, err, tokA, ReasonUnknownKey)

	// B keeps working, from the cache or not.
	if _, err := v.Verify(t.Context(), tokB); err != nil {
		t.Fatalf("token signed by B, after the reuse window: %v", err)
	}
}

func TestJWKSUnknownKIDRefreshIsRateLimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := f.jwks.fetches.Load()
	for i := range 5 {
		tok := sign(t, jwt.SigningMethodRS256, f.keys.rsaOther, "made-up-"+itoa(int64(i)), f.claims(nil))
		p, err := f.jwksOnly.Verify(t.Context(), tok)
		checkRejected(t, p, err, tok, ReasonUnknownKey)
	}
	// Verify is synchronous, and a request the limiter made wait would
	// fetch once its wait ended, before Verify returned: one fetch for five
	// unknown kids proves that the limiter refused at once, without
	// timing anything.
	if got := f.jwks.fetches.Load() - before; got != 1 {
		t.Errorf("5 unknown kids caused %d JWKS fetches, want 1", got)
	}
	// Known keys are unaffected by the exhausted limiter.
	tok := sign(t, jwt.SigningMethodEdDSA, f.keys.ed, "ed-1", f.claims(nil))
	if _, err := f.jwksOnly.Verify(t.Context(), tok); err != nil {
		t.Fatalf("known key after unknown kids: %v", err)
	}
}

func TestNewVerifierErrors(t *testing.T) {
	t.Parallel()
	keys := newTestKeys(t)
	good := newJWKSServer(t, publicJWK(t, &keys.ec.PublicKey, "ec-1", jwkset.AlgES256))
	empty := newJWKSServer(t)
	failing := newJWKSServer(t, publicJWK(t, &keys.ec.PublicKey, "ec-1", jwkset.AlgES256))
	failing.respond(http.StatusInternalServerError, `{"keys":[]}`)
	garbage := newJWKSServer(t)
	garbage.respond(http.StatusOK, "<html>not json</html>")
	octOnly := newJWKSServer(t, octJWK(t, "oct-1", []byte(testSecret)))
	closed := newJWKSServer(t)
	closed.Close()

	secret32 := []byte(strings.Repeat("s", MinSecretBytes))
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means success
	}{
		{"no key", Config{}, "no key configured"},
		{"empty secret slice", Config{HS256Secret: []byte{}}, "no key configured"},
		{"secret of 31 bytes", Config{HS256Secret: secret32[:31]}, "at least 32"},
		{"secret of 32 bytes", Config{HS256Secret: secret32}, ""},
		{"negative leeway", Config{HS256Secret: secret32, Leeway: -time.Second}, "negative leeway"},
		{"JWKS unreachable", Config{JWKSURL: closed.URL()}, "fetching the JWKS"},
		{"JWKS unreachable, with a secret too", Config{HS256Secret: secret32, JWKSURL: closed.URL()}, "fetching the JWKS"},
		{"JWKS answers 500", Config{JWKSURL: failing.URL(), HTTPClient: failing.Client()}, "fetching the JWKS"},
		{"JWKS not JSON", Config{JWKSURL: garbage.URL(), HTTPClient: garbage.Client()}, "fetching the JWKS"},
		{"JWKS empty", Config{JWKSURL: empty.URL(), HTTPClient: empty.Client()}, "no RSA, P-256 or Ed25519 key"},
		{"JWKS with an HMAC key only", Config{JWKSURL: octOnly.URL(), HTTPClient: octOnly.Client()}, "no RSA, P-256 or Ed25519 key"},
		{"JWKS URL relative", Config{JWKSURL: "/jwks.json"}, "absolute http or https"},
		{"JWKS URL of another scheme", Config{JWKSURL: "file:///etc/jwks.json"}, "absolute http or https"},
		{"JWKS ok", Config{JWKSURL: good.URL(), HTTPClient: good.Client()}, ""},
		{"JWKS ok, default client", Config{JWKSURL: good.URL()}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(t.Context(), tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("NewVerifier: %v", err)
			case tc.wantErr == "" && v == nil:
				t.Fatal("NewVerifier returned nil and no error")
			case tc.wantErr != "" && err == nil:
				t.Fatalf("NewVerifier succeeded, want an error containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q does not contain %q", err, tc.wantErr)
			}
			var e *Error
			if errors.As(err, &e) {
				t.Errorf("configuration error is a token *Error: %v", err)
			}
		})
	}
}

func TestNewVerifierHonoursContext(t *testing.T) {
	t.Parallel()
	keys := newTestKeys(t)
	srv := newJWKSServer(t, publicJWK(t, &keys.ec.PublicKey, "ec-1", jwkset.AlgES256))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := NewVerifier(ctx, Config{JWKSURL: srv.URL(), HTTPClient: srv.Client()}); err == nil {
		t.Fatal("NewVerifier with a cancelled context succeeded")
	}
}
