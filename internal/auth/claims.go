package auth

import (
	"encoding/json"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxNumericDate bounds exp, nbf and iat (year 5138), so that absurd values
// are refused instead of overflowing the conversion to time.Time.
const maxNumericDate = 1e11

// tokenClaims are the claims FireFlow reads from a token.
//
// It decodes the payload itself, with exact key matching, rather than letting
// encoding/json fill a struct: encoding/json matches keys case-insensitively,
// so a payload carrying both "roles" and "Roles" (or "exp" and "EXP") would be
// read differently here than by other JWT consumers of the same token. One
// decode into map[string]any also costs about half as much as a map of raw
// messages decoded again field by field.
//
// A claim with the wrong type does not fail decoding; it is recorded in bad
// and reported by Validate, which jwt calls only after the signature has been
// verified. That way an unsigned token learns nothing about its claims, and a
// signed one gets ReasonBadClaims rather than ReasonMalformed.
type tokenClaims struct {
	jwt.RegisteredClaims
	roles []string
	bad   bool
}

// UnmarshalJSON decodes a JWT payload; only a payload that is not a JSON object is an error.
func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = tokenClaims{}
	for k, val := range m {
		var ok bool
		switch k {
		case "iss":
			c.Issuer, ok = optionalString(val)
		case "sub":
			c.Subject, ok = optionalString(val)
		case "jti":
			c.ID, ok = optionalString(val)
		case "aud":
			c.Audience, ok = audience(val)
		case "exp":
			c.ExpiresAt, ok = numericDate(val)
		case "nbf":
			c.NotBefore, ok = numericDate(val)
		case "iat":
			c.IssuedAt, ok = numericDate(val)
		case "roles":
			c.roles, ok = roles(val)
		default:
			continue
		}
		if !ok {
			c.bad = true
		}
	}
	return nil
}

// optionalString accepts a string, or null for absent.
func optionalString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case nil:
		return "", true
	default:
		return "", false
	}
}

// audience accepts a string or an array of strings (RFC 7519 §4.1.3), or null for absent.
func audience(v any) (jwt.ClaimStrings, bool) {
	switch a := v.(type) {
	case string:
		return jwt.ClaimStrings{a}, true
	case nil:
		return nil, true
	case []any:
		return stringArray(a)
	default:
		return nil, false
	}
}

// numericDate accepts a JSON number of seconds since the epoch. Null and
// strings are refused: they are not NumericDates, and reading null as absent
// would make a required claim silently optional.
func numericDate(v any) (*jwt.NumericDate, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f > maxNumericDate {
		return nil, false
	}
	sec, frac := math.Modf(f)
	return jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9))), true
}

// roles accepts only a JSON array of strings. Anything else, including null,
// a bare string and an array with a non-string, is refused rather than
// coerced, because a lenient reading of an authorisation claim is a way in.
func roles(v any) ([]string, bool) {
	a, ok := v.([]any)
	if !ok {
		return nil, false
	}
	return stringArray(a)
}

// stringArray converts a decoded JSON array whose elements must all be strings.
func stringArray(a []any) ([]string, bool) {
	out := make([]string, 0, len(a))
	for _, e := range a {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// Validate is called by jwt after the signature and the registered claims
// have been checked; it rejects what jwt itself does not know to require.
func (c *tokenClaims) Validate() error {
	if c.bad || c.Subject == "" {
		return errBadClaims
	}
	return nil
}
