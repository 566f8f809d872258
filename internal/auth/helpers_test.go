package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

const (
	testSecret   = "0123456789abcdef0123456789abcdef-test" // 37 bytes
	testIssuer   = "https://issuer.fireflow.test"
	testAudience = "fireflow-api"
	testOctKey   = "an-HMAC-key-published-in-the-JWKS!" // must never be accepted
)

// testClock is a settable clock for Config.Now, so that tests can move past
// expiry and past the cache reuse window without sleeping.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) Now() time.Time               { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration)      { c.ns.Add(int64(d)) }
func (c *testClock) At(d time.Duration) time.Time { return c.Now().Add(d) }

// jwksServer is a real HTTP JWKS endpoint on 127.0.0.1 whose key set can be
// swapped, and which counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	status  int
	fetches atomic.Int64
}

func newJWKSServer(tb testing.TB, keys ...jwkset.JWK) *jwksServer {
	tb.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.setKeys(tb, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}))
	tb.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(tb testing.TB, keys ...jwkset.JWK) {
	tb.Helper()
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Marshal())
	}
	body, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

// respond makes the server answer status and body from now on.
func (s *jwksServer) respond(status int, body string) {
	s.mu.Lock()
	s.status, s.body = status, []byte(body)
	s.mu.Unlock()
}

func (s *jwksServer) URL() string { return s.Server.URL + "/.well-known/jwks.json" }

// publicJWK wraps the public half of key as a JWK with kid and alg.
func publicJWK(tb testing.TB, pub any, kid string, alg jwkset.ALG) jwkset.JWK {
	tb.Helper()
	j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

// octJWK is a symmetric JWK, which a JWKS may publish but which must never
// be used for FireFlow tokens.
func octJWK(tb testing.TB, kid string, key []byte) jwkset.JWK {
	tb.Helper()
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgHS256},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

// testKeys are one key pair per accepted asymmetric algorithm, plus an
// attacker's RSA key that is not in the JWKS.
type testKeys struct {
	rsa, rsaOther *rsa.PrivateKey
	rsaWeak       *rsa.PrivateKey // 1024 bits, published but too short to be trusted
	ec            *ecdsa.PrivateKey
	ed            ed25519.PrivateKey
}

func newTestKeys(tb testing.TB) testKeys {
	tb.Helper()
	var k testKeys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		tb.Fatal(err)
	}
	if k.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		tb.Fatal(err)
	}
	if k.rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		tb.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		tb.Fatal(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		tb.Fatal(err)
	}
	return k
}

// fixture is a JWKS server with the test keys and three verifiers over it:
// HS256 only, JWKS only, and both. All check issuer and audience and share a clock.
type fixture struct {
	keys               testKeys
	jwks               *jwksServer
	clock              *testClock
	hs, jwksOnly, both *Verifier
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	f := &fixture{keys: newTestKeys(tb), clock: newTestClock(time.Now().Truncate(time.Second))}
	f.jwks = newJWKSServer(tb,
		publicJWK(tb, &f.keys.rsa.PublicKey, "rsa-1", jwkset.AlgRS256),
		publicJWK(tb, &f.keys.ec.PublicKey, "ec-1", jwkset.AlgES256),
		publicJWK(tb, f.keys.ed.Public(), "ed-1", jwkset.AlgEdDSA),
		publicJWK(tb, &f.keys.rsa.PublicKey, "rsa-noalg", ""),
		publicJWK(tb, &f.keys.rsaWeak.PublicKey, "rsa-weak", jwkset.AlgRS256),
		octJWK(tb, "oct-1", []byte(testOctKey)),
	)
	base := Config{Issuer: testIssuer, Audience: testAudience, Now: f.clock.Now, HTTPClient: f.jwks.Client()}
	f.hs = mustVerifier(tb, withKeys(base, []byte(testSecret), ""))
	f.jwksOnly = mustVerifier(tb, withKeys(base, nil, f.jwks.URL()))
	f.both = mustVerifier(tb, withKeys(base, []byte(testSecret), f.jwks.URL()))
	return f
}

func withKeys(c Config, secret []byte, jwksURL string) Config {
	c.HS256Secret, c.JWKSURL = secret, jwksURL
	return c
}

func mustVerifier(tb testing.TB, cfg Config) *Verifier {
	tb.Helper()
	v, err := NewVerifier(tb.Context(), cfg)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// claims returns valid claims at the fixture's time, changed by edits; an
// edit value of nil deletes the claim.
func (f *fixture) claims(edits map[string]any) jwt.MapClaims {
	now := f.clock.Now()
	c := jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "alice",
		"roles": []string{"editor"},
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"jti":   "t-1",
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// sign signs claims with method and key, adding kid to the header when non-empty.
func sign(tb testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// segments splits a compact token into its three parts.
func segments(tb testing.TB, tok string) (h, p, s string) {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d segments", len(parts))
	}
	return parts[0], parts[1], parts[2]
}

// checkRejected asserts that err is an *Error with reason want, whose message
// is the fixed one for that reason and does not contain the token.
func checkRejected(tb testing.TB, p Principal, err error, tok string, want Reason) {
	tb.Helper()
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("got principal %+v, error %v (%T); want *Error %q", p, err, err, want)
	}
	if e.Reason != want {
		tb.Errorf("reason = %q, want %q (%v)", e.Reason, want, e)
	}
	if e.Message != messageFor(e.Reason) {
		tb.Errorf("message = %q, want the fixed message %q", e.Message, messageFor(e.Reason))
	}
	if len(tok) > 8 && strings.Contains(e.Error(), tok) {
		tb.Errorf("error %q contains the token", e.Error())
	}
	if p.Subject != "" || p.Roles != nil || p.Role != "" {
		tb.Errorf("rejected token returned principal %+v", p)
	}
}
