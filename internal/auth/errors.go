package auth

// Reason says why a token was rejected, in a form fit for a metric label.
type Reason string

// The reasons a token can be rejected for.
const (
	// ReasonMissing means no token was given.
	ReasonMissing Reason = "missing"
	// ReasonTooLarge means the token is longer than MaxTokenBytes.
	ReasonTooLarge Reason = "too_large"
	// ReasonMalformed means the token is not a well-formed compact JWS.
	ReasonMalformed Reason = "malformed"
	// ReasonBadSignature means the signature does not verify.
	ReasonBadSignature Reason = "bad_signature"
	// ReasonUnknownKey means no JWKS key matches the token, even after a refresh.
	ReasonUnknownKey Reason = "unknown_key"
	// ReasonBadAlgorithm means the token's "alg" is not one this verifier accepts, or does not fit its key.
	ReasonBadAlgorithm Reason = "bad_algorithm"
	// ReasonExpired means "exp" has passed.
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid means "nbf" or "iat" is in the future.
	ReasonNotYetValid Reason = "not_yet_valid"
	// ReasonBadIssuer means "iss" is missing or not the configured issuer.
	ReasonBadIssuer Reason = "bad_issuer"
	// ReasonBadAudience means "aud" is missing or does not contain the configured audience.
	ReasonBadAudience Reason = "bad_audience"
	// ReasonBadClaims means a claim is missing or has the wrong type (no "exp", empty "sub", "roles" not an array of strings ...).
	ReasonBadClaims Reason = "bad_claims"
)

// MaxTokenBytes is the largest token accepted (8 KiB); larger ones are refused before parsing.
const MaxTokenBytes = 8 << 10

// Error is a rejected token, with a reason fit for a metric label and a message fit for the client (never the token itself).
type Error struct {
	// Reason is one of the Reason constants.
	Reason Reason
	// Message is a short fixed sentence for the client; it depends on Reason only.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return "auth: " + string(e.Reason) + ": " + e.Message
}

// reject builds the *Error for r. Messages are fixed per reason so that
// nothing from the token (claims, kid, key material) can leak to the client
// or into logs through them.
func reject(r Reason) *Error {
	return &Error{Reason: r, Message: messageFor(r)}
}

// messageFor returns the fixed client message for r.
func messageFor(r Reason) string {
	switch r {
	case ReasonMissing:
		return "a bearer token is required"
	case ReasonTooLarge:
		return "the token is too large"
	case ReasonMalformed:
		return "the token is malformed"
	case ReasonBadSignature:
		return "the token signature is invalid"
	case ReasonUnknownKey:
		return "the token was signed with an unknown key"
	case ReasonBadAlgorithm:
		return "the token signing algorithm is not accepted"
	case ReasonExpired:
		return "the token has expired"
	case ReasonNotYetValid:
		return "the token is not valid yet"
	case ReasonBadIssuer:
		return "the token issuer is not accepted"
	case ReasonBadAudience:
		return "the token audience is not accepted"
	case ReasonBadClaims:
		return "the token claims are invalid"
	default:
		return "the token is invalid"
	}
}

// sentinel is an error that can be a constant, so that the package needs no
// error variables; errors.Is matches it by value through jwt's wrapping.
type sentinel string

// Error implements error.
func (s sentinel) Error() string { return string(s) }

// Internal causes, returned from the keyfunc and the claims validator; jwt
// wraps them, and Verify maps them to a Reason with errors.Is.
const (
	errBadClaims  sentinel = "auth: invalid claims"
	errUnknownKey sentinel = "auth: no key for the token"
	errKeyMisfit  sentinel = "auth: the key does not fit the token's algorithm"
)
