// Package auth verifies the bearer JWTs that FireFlow accepts, turns their
// claims into a Principal with a role, and mints HS256 tokens for development
// and for the `fireflow token` command.
//
// Two key sources are supported, and either or both may be configured: a
// shared HS256 secret, and a JWKS URL that supplies RS256, ES256 and EdDSA
// keys. The accepted algorithms are pinned to exactly the configured sources,
// and HMAC tokens are only ever checked against the secret while asymmetric
// tokens are only ever checked against JWKS keys, so that a token cannot pick
// its own key material (the "algorithm confusion" attack).
package auth
