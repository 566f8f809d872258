package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fireflow/fireflow/internal/service"
)

// The path parameters and headers that several operations share.

// FirewallParams names a firewall in the path.
type FirewallParams struct {
	FirewallID string `path:"firewall_id" maxLength:"64" doc:"The firewall's id." example:"01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f"`
}

// PolicyParams names a filtering policy in the path.
type PolicyParams struct {
	FirewallParams
	PolicyID string `path:"policy_id" maxLength:"64" doc:"The filtering policy's id." example:"01936f8e-8d2b-7c4f-8e30-6b7c8d9e0f1a"`
}

// RuleParams names a rule in the path.
type RuleParams struct {
	PolicyParams
	RuleID string `path:"rule_id" maxLength:"64" doc:"The rule's id." example:"01936f8e-9e3c-7d50-9f41-7c8d9e0f1a2b"`
}

// CascadeParam asks a delete to remove the resource's children too.
type CascadeParam struct {
	Cascade bool `query:"cascade" doc:"Also delete the children; without it, a resource with children answers 409."`
}

// IfMatchHeader makes a write conditional on the resource's etag.
type IfMatchHeader struct {
	IfMatch string `header:"If-Match" maxLength:"1024" doc:"Make the write conditional: the etag the client last saw, or *. A stale etag answers 412."`
}

// precondition parses If-Match: a list of strong or weak etags, quoted or
// bare, or *.
func (h IfMatchHeader) precondition() service.Precondition {
	if strings.TrimSpace(h.IfMatch) == "" {
		return nil
	}
	var pre service.Precondition
	for _, tag := range strings.Split(h.IfMatch, ",") {
		tag = strings.TrimSpace(tag)
		tag = strings.TrimPrefix(tag, "W/")
		pre = append(pre, strings.Trim(tag, `"`))
	}
	return pre
}

// IdempotencyHeader makes a POST safe to retry.
type IdempotencyHeader struct {
	IdempotencyKey string `header:"Idempotency-Key" maxLength:"255" doc:"Makes the POST safe to retry: a retry with the same key and body returns the first response; the same key with another body answers 422. Keys are kept for 24 hours."`
}

// idempotency scopes the client's key to the collection it posts to, and
// fingerprints the request body.
func (h IdempotencyHeader) idempotency(collection string, body any) (service.Idempotency, error) {
	if h.IdempotencyKey == "" {
		return service.Idempotency{}, nil
	}
	b, err := json.Marshal(body)
	if err != nil {
		return service.Idempotency{}, fmt.Errorf("fingerprint request body: %w", err)
	}
	sum := sha256.Sum256(b)
	return service.Idempotency{Key: "POST " + collection + " " + h.IdempotencyKey, RequestHash: hex.EncodeToString(sum[:])}, nil
}

func quoteETag(etag string) string { return `"` + etag + `"` }

// replayHeader is set on a response that replays an earlier request.
func replayHeader(replayed bool) string {
	if replayed {
		return "true"
	}
	return ""
}
