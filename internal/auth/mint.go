package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinSecretBytes is the shortest HS256 secret accepted (32).
//
// 32 bytes is the HMAC-SHA256 output size (RFC 7518 §3.2 requires at least
// that); shorter secrets make offline brute force of a captured token feasible.
const MinSecretBytes = 32

// DevSecretPrefix marks development secrets, so that production can refuse them.
const DevSecretPrefix = "fireflow-dev-"

// mintClaims is the payload Mint signs; roles is always an array, even when empty,
// because Verify refuses any other type.
type mintClaims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles"`
}

// Mint signs an HS256 token for sub with the roles, valid for ttl from now, with iat, nbf, exp, a random jti, and iss/aud when non-empty.
func Mint(secret []byte, sub string, roles []string, ttl time.Duration, issuer, audience string, now time.Time) (string, error) {
	switch {
	case len(secret) < MinSecretBytes:
		return "", fmt.Errorf("auth: the HS256 secret has %d bytes, at least %d are required", len(secret), MinSecretBytes)
	case sub == "":
		return "", errors.New("auth: the subject is empty")
	case ttl <= 0:
		return "", fmt.Errorf("auth: the token lifetime %s is not positive", ttl)
	}
	jti, err := randomText(16)
	if err != nil {
		return "", err
	}
	c := mintClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   sub,
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        jti,
		},
		Roles: append([]string{}, roles...),
	}
	if audience != "" {
		c.Audience = jwt.ClaimStrings{audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// NewDevSecret returns a fresh random development secret, as text that starts with DevSecretPrefix.
//
// It is text, not raw bytes, so that it can live in a file or an environment
// variable; its 32 random bytes keep the full strength of MinSecretBytes.
func NewDevSecret() (string, error) {
	r, err := randomText(32)
	if err != nil {
		return "", err
	}
	return DevSecretPrefix + r, nil
}

// IsDevSecret reports whether secret is a development secret.
func IsDevSecret(secret []byte) bool {
	return bytes.HasPrefix(secret, []byte(DevSecretPrefix))
}

// randomText returns n random bytes as unpadded base64url.
func randomText(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
