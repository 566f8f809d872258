package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/filter"
	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

// Parameters shared by several operations.

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

// ListParams selects a page of a collection. The descriptions of filter
// and order_by are replaced per collection by describeList, so that each
// lists its own fields.
type ListParams struct {
	PageSize  int    `query:"page_size" minimum:"1" maximum:"1000" default:"50" doc:"How many items to return, 1 to 1000."`
	PageToken string `query:"page_token" maxLength:"2048" doc:"The next_page_token of the previous page, with the same filter and order_by; leave it out for the first page."`
	// The filter's length is checked by internal/filter, whose message
	// says how long it was.
	Filter  string `query:"filter" doc:"An AIP-160 filter expression."`
	OrderBy string `query:"order_by" doc:"An AIP-132 order."`
}

func (p ListParams) query() firewall.Query {
	return firewall.Query{PageSize: p.PageSize, PageToken: p.PageToken, Filter: p.Filter, OrderBy: p.OrderBy}
}

// describeList writes the filter and order_by descriptions of the list
// operation at path from the resource's declared fields.
func (a *api) describeList(path string, res *filter.Resource) {
	item := a.humaAPI.OpenAPI().Paths[path]
	if item == nil || item.Get == nil {
		panic("httpapi: no list operation at " + path)
	}
	for _, p := range item.Get.Parameters {
		switch p.Name {
		case "filter":
			// The example goes in the text: as an example value, Swagger
			// UI's "try it out" would send it.
			p.Description = res.Describe() + " Example: " + res.Example
		case "order_by":
			p.Description = res.DescribeOrder()
		}
	}
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

// Page is one page of a collection.
type Page[T any] struct {
	Items         []T    `json:"items" doc:"The items of this page."`
	NextPageToken string `json:"next_page_token" doc:"Pass it as page_token to get the next page; empty on the last page."`
}

func pageOf[D, T any](p firewall.Page[D], conv func(D) T) Page[T] {
	items := make([]T, len(p.Items))
	for i, d := range p.Items {
		items[i] = conv(d)
	}
	return Page[T]{Items: items, NextPageToken: p.NextPageToken}
}

// Ensure huma sees Problem as an error type with a status.
var _ huma.StatusError = (*Problem)(nil)
