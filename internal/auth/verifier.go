package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWKS client tuning.
const (
	defaultLeeway = 30 * time.Second
	// jwksHTTPTimeout bounds each JWKS fetch, including the first one in NewVerifier.
	jwksHTTPTimeout = 10 * time.Second
	// jwksRefreshInterval is the periodic refresh. Five minutes (keyfunc's
	// default is an hour) so that a key the issuer withdraws stops being
	// accepted soon, for the price of one small GET every five minutes.
	jwksRefreshInterval = 5 * time.Minute
	// jwksUnknownKIDEvery is the least time between two refreshes caused by an
	// unknown kid. The first unknown kid refreshes at once, so a key rotation
	// is picked up by the first token that uses the new key; after that,
	// tokens with made-up kids cannot make us hammer the issuer.
	jwksUnknownKIDEvery = time.Minute
	// jwksUnknownKIDWaitMax bounds how long a request may wait for the
	// rate limiter and then the refresh itself; when the limiter would make it
	// wait longer, the kid is reported unknown at once instead.
	jwksUnknownKIDWaitMax = jwksHTTPTimeout
	// minRSABits refuses weak RSA keys that a JWKS might still publish.
	minRSABits = 2048
)

// Config configures a Verifier.
type Config struct {
	// HS256Secret is the HS256 key; at least MinSecretBytes when set.
	HS256Secret []byte
	// JWKSURL, when set, supplies the RS256, ES256 and EdDSA keys.
	JWKSURL string
	// Issuer is checked against "iss" when set.
	Issuer string
	// Audience must be among "aud" when set.
	Audience string
	// Leeway is the clock skew allowed for exp, nbf and iat; 0 means 30s.
	Leeway time.Duration
	// Now is for tests; nil means time.Now.
	Now func() time.Time
	// HTTPClient is used for the JWKS fetch; nil means a client with a 10s timeout.
	HTTPClient *http.Client
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	secret   []byte          // nil unless HS256 is configured
	jwks     keyfunc.Keyfunc // nil unless a JWKS URL is configured
	methods  []string        // the accepted "alg" values, exactly
	issuer   string
	audience string
	now      func() time.Time
	parser   *jwt.Parser
	cache    *tokenCache // nil disables caching (benchmarks only)
}

// NewVerifier checks cfg and, with a JWKS URL, fetches the key set once (failing if it cannot) and keeps it refreshed in the background until ctx ends. At least one of HS256Secret and JWKSURL is required.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if len(cfg.HS256Secret) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("auth: no key configured: set an HS256 secret or a JWKS URL")
	}
	if n := len(cfg.HS256Secret); n > 0 && n < MinSecretBytes {
		return nil, fmt.Errorf("auth: the HS256 secret has %d bytes, at least %d are required", n, MinSecretBytes)
	}
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("auth: negative leeway %s", cfg.Leeway)
	}
	v := &Verifier{
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		now:      cfg.Now,
		cache:    newTokenCache(),
	}
	if v.now == nil {
		v.now = time.Now
	}
	if len(cfg.HS256Secret) > 0 {
		// Copied so that a caller reusing its buffer cannot change the key.
		v.secret = slices.Clone(cfg.HS256Secret)
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKSURL != "" {
		jwks, err := newJWKS(ctx, cfg)
		if err != nil {
			return nil, err
		}
		v.jwks = jwks
		v.methods = append(v.methods,
			jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg())
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = defaultLeeway
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(v.now),
		// Canonical base64 only, so that one token has one spelling (and one cache entry).
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// newJWKS starts the keyfunc JWKS client and checks that the first fetch
// produced at least one key this package can use.
func newJWKS(ctx context.Context, cfg Config) (kf keyfunc.Keyfunc, err error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("auth: the JWKS URL must be an absolute http or https URL")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: jwksHTTPTimeout}
	}
	// jwkset starts its refresh goroutine before the first fetch, and does not
	// stop it when that fetch fails; a child context lets us stop it.
	kctx, cancel := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	noErrorOnFirstFetch := false // fail now rather than serve 401s later
	kf, err = keyfunc.NewDefaultOverrideCtx(kctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               jwksHTTPTimeout,
		NoErrorReturnFirstHTTPReq: &noErrorOnFirstFetch,
		RateLimitWaitMax:          jwksUnknownKIDWaitMax,
		RefreshInterval:           jwksRefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
	})
	if err != nil {
		// The URL is the operator's own configuration, so it may be shown.
		return nil, fmt.Errorf("auth: fetching the JWKS from %s: %w", cfg.JWKSURL, err)
	}
	keys, err := kf.Storage().KeyReadAll(kctx)
	if err != nil {
		return nil, fmt.Errorf("auth: reading the JWKS from %s: %w", cfg.JWKSURL, err)
	}
	if !slices.ContainsFunc(keys, func(k jwkset.JWK) bool { return usableKey(k.Key()) }) {
		err = fmt.Errorf("auth: the JWKS at %s has no RSA, P-256 or Ed25519 key", cfg.JWKSURL)
		return nil, err
	}
	return kf, nil
}

// Verify checks a bearer token and returns its principal, or an *Error.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	switch {
	case token == "":
		return Principal{}, reject(ReasonMissing)
	case len(token) > MaxTokenBytes:
		return Principal{}, reject(ReasonTooLarge)
	}
	now := v.now()
	if v.cache != nil {
		if p, ok := v.cache.get(token, now); ok {
			// Cloned so that a caller changing Roles cannot change what
			// other requests with the same token see.
			p.Roles = slices.Clone(p.Roles)
			return p, nil
		}
	}
	var claims tokenClaims
	parsed, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		return Principal{}, reject(v.reason(parsed, &claims, err))
	}
	p := Principal{Subject: claims.Subject, Roles: claims.roles, Role: highestRole(claims.roles)}
	if v.cache != nil {
		until := now.Add(cacheReuse)
		if exp := claims.ExpiresAt.Time; exp.Before(until) {
			until = exp
		}
		v.cache.put(token, p, until, now)
		p.Roles = slices.Clone(p.Roles)
	}
	return p, nil
}

// key is the jwt.Keyfunc. It dispatches on the token's method, never on its
// kid or on the key's type: HMAC tokens get the secret and only the secret,
// asymmetric tokens get JWKS keys and never the secret. The parser has
// already refused any alg outside v.methods; the checks here repeat that so
// that a mistake in one place is not enough.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	switch t.Method {
	case jwt.SigningMethodHS256:
		if v.secret == nil {
			return nil, errKeyMisfit
		}
		return v.secret, nil
	case jwt.SigningMethodRS256, jwt.SigningMethodES256, jwt.SigningMethodEdDSA:
		if v.jwks == nil {
			return nil, errKeyMisfit
		}
	default:
		return nil, errKeyMisfit
	}
	got, err := v.jwks.KeyfuncCtx(ctx)(t)
	if err != nil {
		// Not found even after the rate-limited refresh, a kid that is not a
		// string, a JWK whose "alg" differs from the token's: in every case
		// the JWKS has no key for this token.
		return nil, fmt.Errorf("%w: %w", errUnknownKey, err)
	}
	switch k := got.(type) {
	case jwt.VerificationKeySet: // the token has no kid: try the keys that fit its method
		var fit jwt.VerificationKeySet
		for _, key := range k.Keys {
			if keyFits(t.Method, key) {
				fit.Keys = append(fit.Keys, key)
			}
		}
		if len(fit.Keys) == 0 {
			return nil, errUnknownKey
		}
		return fit, nil
	default:
		if !keyFits(t.Method, got) {
			return nil, errKeyMisfit
		}
		return got, nil
	}
}

// keyFits reports whether key is the kind of public key method verifies with.
// jwt checks the Go type too, but not the curve: an ES256 token must not
// verify against a P-384 key, nor RS256 against a short RSA key.
func keyFits(method jwt.SigningMethod, key any) bool {
	switch method {
	case jwt.SigningMethodRS256:
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= minRSABits
	case jwt.SigningMethodES256:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	case jwt.SigningMethodEdDSA:
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	default:
		return false
	}
}

// usableKey reports whether a JWKS key (public or private) fits any accepted asymmetric method.
func usableKey(key any) bool {
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	return keyFits(jwt.SigningMethodRS256, key) ||
		keyFits(jwt.SigningMethodES256, key) ||
		keyFits(jwt.SigningMethodEdDSA, key)
}

// reason maps a jwt error to a Reason, with errors.Is on jwt's and this
// package's sentinels only: jwt's error texts are not a stable interface.
func (v *Verifier) reason(t *jwt.Token, c *tokenClaims, err error) Reason {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, errUnknownKey):
		return ReasonUnknownKey
	case errors.Is(err, errKeyMisfit):
		return ReasonBadAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		// jwt reports an alg outside WithValidMethods as ErrTokenSignatureInvalid,
		// and a missing or unregistered alg as ErrTokenUnverifiable; the
		// parsed method tells these apart from a signature that does not verify.
		if t == nil || t.Method == nil || !slices.Contains(v.methods, t.Method.Alg()) {
			return ReasonBadAlgorithm
		}
		return ReasonBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ReasonNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && v.issuer != "" && c.Issuer == "":
		return ReasonBadIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && v.audience != "" && len(c.Audience) == 0:
		return ReasonBadAudience
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return ReasonBadClaims
	default:
		return ReasonMalformed
	}
}
