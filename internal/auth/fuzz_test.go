package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that any input yields either a principal or an *Error
// with a known reason and its fixed message, never a panic, and never an
// error that repeats the input.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	hs := func(edits map[string]any) string {
		return sign(f, jwt.SigningMethodHS256, []byte(testSecret), "", fx.claims(edits))
	}
	good := hs(nil)
	h, p, s := segments(f, good)
	seeds := []string{
		good,
		hs(map[string]any{"roles": "admin"}),
		hs(map[string]any{"roles": []any{1, 2}}),
		hs(map[string]any{"exp": fx.clock.At(-time.Hour).Unix()}),
		hs(map[string]any{"sub": ""}),
		sign(f, jwt.SigningMethodRS256, fx.keys.rsa, "rsa-1", fx.claims(nil)),
		sign(f, jwt.SigningMethodES256, fx.keys.ec, "ec-1", fx.claims(nil)),
		sign(f, jwt.SigningMethodEdDSA, fx.keys.ed, "ed-1", fx.claims(nil)),
		sign(f, jwt.SigningMethodES256, fx.keys.ec, "", fx.claims(nil)),
		b64(`{"alg":"none"}`) + "." + p + ".",
		b64(`{"alg":"HS256","kid":"rsa-1"}`) + "." + p + "." + s,
		h + "." + b64(`null`) + "." + s,
		h + "." + b64(`{"exp":1e400}`) + "." + s,
		h + "." + b64(`{"sub":"a","exp":-1e30,"roles":[]}`) + "." + s,
		"", ".", "..", "...", "a.b.c", "eyJ.eyJ.", good + ".", "Bearer " + good,
	}
	for _, seed := range seeds {
		f.Add(seed)
	}
	known := map[Reason]bool{
		ReasonMissing: true, ReasonTooLarge: true, ReasonMalformed: true, ReasonBadSignature: true,
		ReasonUnknownKey: true, ReasonBadAlgorithm: true, ReasonExpired: true, ReasonNotYetValid: true,
		ReasonBadIssuer: true, ReasonBadAudience: true, ReasonBadClaims: true,
	}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, v := range []*Verifier{fx.both, fx.hs} {
			p, err := v.Verify(t.Context(), tok)
			if err == nil {
				if p.Subject == "" {
					t.Fatalf("accepted with an empty subject: %q", tok)
				}
				if p.Role != highestRole(p.Roles) {
					t.Fatalf("role %q is not the highest of %q", p.Role, p.Roles)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			if !known[e.Reason] {
				t.Fatalf("unknown reason %q", e.Reason)
			}
			// The message is the fixed one for the reason, so it cannot carry
			// any part of the input; the substring check is meaningful only
			// for inputs longer than a word.
			if e.Message != messageFor(e.Reason) {
				t.Fatalf("message %q is not the fixed message for %q", e.Message, e.Reason)
			}
			if len(tok) > 12 && strings.Contains(e.Error(), tok) {
				t.Fatalf("error %q contains the input", e.Error())
			}
			if p.Subject != "" || p.Roles != nil || p.Role != "" {
				t.Fatalf("rejected input returned principal %+v", p)
			}
		}
	})
}
