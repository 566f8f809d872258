package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fireflow/fireflow/internal/firewall"
	"github.com/fireflow/fireflow/internal/service"
)

// The OpenAPI document is finished here, once every route is registered:
// what each operation can answer (from its parameters and body), the
// headers really sent, and the limits of every field, taken from the
// constants the validation uses. Client generators and linters read these
// limits. The finished document is a second build's: huma validates
// requests against the schemas of the first, so the limits added here
// document what the domain checks, and a bad value keeps the domain's
// worded message instead of huma's.

// serveFinishedDocument serves, where huma would, the document of a
// second, finished build, in OpenAPI 3.1 and 3.0, as JSON and YAML.
func (a *api) serveFinishedDocument(mux *routeMux, svc *service.Service, opts Options) {
	opts.documentOnly = true
	_, built, _ := build(svc, opts)
	doc := built.OpenAPI()
	for path, render := range map[string]struct {
		contentType string
		render      func() ([]byte, error)
	}{
		"/openapi.json":     {"application/openapi+json", doc.MarshalJSON},
		"/openapi.yaml":     {"application/openapi+yaml", doc.YAML},
		"/openapi-3.0.json": {"application/openapi+json", doc.Downgrade},
		"/openapi-3.0.yaml": {"application/openapi+yaml", doc.DowngradeYAML},
	} {
		body := sync.OnceValues(render.render)
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
			b, err := body()
			if err != nil {
				http.Error(w, "render "+path+": "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", render.contentType)
			_, _ = w.Write(b)
		})
	}
}

// Lengths of the texts the API sends or takes that the model does not
// bound itself.
const (
	idLen         = len("01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f") // a UUID's text
	timeLen       = len(time.RFC3339Nano) + len("+00:00") - len("Z07:00")
	cidrLen       = len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128")
	portRangeLen  = len("65535-65535")
	etagLen       = len(`W/""`) + 64
	labelKeyLen   = 253 + len("/") + 63 // Kubernetes: DNS prefix, slash, name
	labelValueLen = 63
	// messageLen bounds the free text of problems, findings and import
	// statements: the server writes them, and none comes near this.
	messageLen = 4 * firewall.MaxDescriptionLen
	// maxHeaderRoles bounds the roles of a token that the audit log keeps.
	maxTokenRoles = 16
	// maxProblemErrors bounds the errors a problem lists.
	maxProblemErrors = maxFlowProblems + 1
)

// Patterns of the texts that have one. They document; the domain checks.
const (
	uuidPattern      = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`
	namePattern      = `^(\S(.*\S)?)?$`
	cidrPattern      = `^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$`
	portRangePattern = `^[0-9]{1,5}(-[0-9]{1,5})?$`
	etagPattern      = `^(W/)?"[0-9a-f]*"$`
	rawETagPattern   = `^[0-9a-f]+$`
	labelKeyPattern  = `^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	labelValPattern  = `^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`
	freeTextPattern  = `^[^\x00]*$`
	tokenPattern     = `^[\x21-\x7e]*$`
	filterPattern    = `^[^\x00-\x08\x0b\x0c\x0e-\x1f]*$`
)

// stringLimit is what the document says of a text field.
type stringLimit struct {
	max     int
	pattern string
}

// stringLimits gives the limits of text fields by their name; an array's
// items take the array's name.
var stringLimits = map[string]stringLimit{
	"id": {idLen, uuidPattern}, "firewall_id": {idLen, uuidPattern}, "policy_id": {idLen, uuidPattern},
	"rule_id": {idLen, uuidPattern}, "old_policy_id": {idLen, uuidPattern}, "resource_id": {idLen, uuidPattern},
	"conflicts_with": {idLen, uuidPattern}, "expired_rules": {idLen, uuidPattern},
	"name": {firewall.MaxNameLen, namePattern}, "policy_name": {firewall.MaxNameLen, namePattern},
	"description": {firewall.MaxDescriptionLen, freeTextPattern},
	"sources":     {cidrLen, cidrPattern}, "destinations": {cidrLen, cidrPattern},
	"sources_except": {cidrLen, cidrPattern}, "destinations_except": {cidrLen, cidrPattern},
	"source_ip": {cidrLen, cidrPattern}, "destination_ip": {cidrLen, cidrPattern},
	"source_ports": {portRangeLen, portRangePattern}, "destination_ports": {portRangeLen, portRangePattern},
	"etag": {etagLen, rawETagPattern}, "ETag": {etagLen, etagPattern}, "If-Match": {etagLen * 8, `^(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)$`},
	"labels":     {labelValueLen, labelValPattern},
	"filter":     {service.MaxFilterLen, filterPattern},
	"order_by":   {service.MaxOrderByLen, `^[a-z_]+( (asc|desc))?(, *[a-z_]+( (asc|desc))?)*$`},
	"page_token": {messageLen, tokenPattern}, "next_page_token": {messageLen, tokenPattern},
	"Idempotency-Key": {firewall.MaxNameLen, tokenPattern},
	"Location":        {messageLen, `^/api/v1/`},
	"request_id":      {messageLen, tokenPattern}, "trace_id": {len("4bf92f3577b34da6a3ce929d0e0e4736"), `^[0-9a-f]{32}$`},
	"type":          {messageLen, `^urn:fireflow:problem:[a-z-]+$`},
	"actor_subject": {firewall.MaxNameLen, freeTextPattern}, "actor_roles": {firewall.MaxNameLen, tokenPattern},
	"version": {firewall.MaxNameLen, tokenPattern},
}

// arrayLimits gives the most items of array fields by their name.
var arrayLimits = map[string]int{
	"items": firewall.MaxPageSize, "policies": firewall.MaxTreePolicies, "rules": firewall.MaxTreeRules,
	"sources": firewall.MaxListEntries, "destinations": firewall.MaxListEntries,
	"source_ports": firewall.MaxListEntries, "destination_ports": firewall.MaxListEntries,
	"flows": maxFlows, "decisions": maxFlows, "path": firewall.MaxTreePolicies,
	"expired_rules": firewall.MaxExpiredRules, "errors": maxProblemErrors, "regions": maxRegionsLimit,
	"actor_roles": maxTokenRoles,
}

// finishDocument completes the document once every route is registered.
func (a *api) finishDocument() {
	doc := a.humaAPI.OpenAPI()
	doc.Servers = []*huma.Server{{URL: "/",
		Description: "The server that serves this document: local, staging or production alike, since each serves its own.",
		// FireFlow manages an organisation's own firewalls: its API is for
		// its operators and their automation, not for the public.
		Extensions: map[string]any{"x-internal": true}}}
	doc.Info.Contact = &huma.Contact{Name: "FireFlow maintainers", URL: "https://github.com/fireflow/fireflow"}
	doc.Tags = documentTags
	if bearer := doc.Components.SecuritySchemes[bearerScheme]; bearer != nil {
		bearer.Description += " Tokens are checked as RFC8725 (JWT best current practices) asks: the accepted" +
			" algorithms are pinned to the configured keys, an HMAC token is checked only against the secret and" +
			" an asymmetric one only against the JWKS keys, and exp is required."
	}
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post,
			http.MethodPut: item.Put, http.MethodPatch: item.Patch, http.MethodDelete: item.Delete} {
			if op != nil {
				a.finishOperation(method, path, op)
			}
		}
	}
	typeAnyValues(doc.Components.Schemas)
	for _, s := range doc.Components.Schemas.Map() {
		constrain("", s)
	}
	// Fields that exclude each other get one whole example, so that a
	// sample request built from the examples is valid.
	for name, example := range objectExamples {
		if s := doc.Components.Schemas.Map()[name]; s != nil {
			s.Examples = []any{example}
		}
	}
}

// objectExamples are whole examples of the inputs whose fields exclude
// each other.
var objectExamples = map[string]any{
	"MoveInput": map[string]any{"position": 1},
	"EvaluateInput": map[string]any{"explain": true, "flow": map[string]any{"protocol": "tcp",
		"source_ip": "198.51.100.7", "destination_ip": "192.0.2.10", "source_port": 51514, "destination_port": 443}},
}

// fieldExamples are realistic values of fields by name, for the fields
// whose tags give none.
var fieldExamples = map[string]any{
	"id": "01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f", "firewall_id": "01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f",
	"policy_id": "01936f8e-8a2b-7c4d-8e5f-6a7b8c9d0e1f", "rule_id": "01936f8e-9b3c-7d5e-9f60-7b8c9d0e1f2a",
	"old_policy_id": "01936f8e-8a2b-7c4d-8e5f-6a7b8c9d0e1f", "resource_id": "01936f8e-7c1a-7b3e-9d2f-5a6b7c8d9e0f",
	"conflicts_with": "01936f8e-9b3c-7d5e-9f60-7b8c9d0e1f2a",
	"name":           "baseline", "policy_name": "baseline", "description": "Resolvers of the Paris site",
	"sources": []any{"10.0.0.0/8"}, "destinations": []any{"192.0.2.10/32"},
	"sources_except": []any{"10.9.0.0/16"}, "destinations_except": []any{"192.0.2.99/32"},
	"source_ports": []any{"1024-65535"}, "destination_ports": []any{"443"},
	"protocol": "tcp", "request_id": "0f9c2a4e1b7d3c55", "message": "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?",
}

// exampleOf is a realistic example of a field that has none.
func exampleOf(name string, s *huma.Schema) (any, bool) {
	if v, ok := fieldExamples[name]; ok {
		if _, list := v.([]any); list == (s.Type == huma.TypeArray) {
			return v, true
		}
	}
	switch {
	case s.Default != nil:
		return s.Default, true
	case len(s.Enum) > 0:
		return s.Enum[0], true
	case s.Format == "date-time":
		return "2026-01-15T09:30:00Z", true
	case s.Type == huma.TypeBoolean:
		return true, true
	case s.Type == huma.TypeInteger && s.Minimum != nil:
		return max(int64(*s.Minimum), 1), true
	}
	return nil, false
}

// typeAnyValues gives the fields that Go declares as any the types they
// can hold: the audit log's resources, and the values of changes and
// problems, which are whatever JSON the field holds.
func typeAnyValues(r huma.Registry) {
	schemas := r.Map()
	resource := func(doc string) *huma.Schema {
		return &huma.Schema{Description: doc, AnyOf: []*huma.Schema{
			{Ref: "#/components/schemas/Firewall"}, {Ref: "#/components/schemas/Policy"}, {Ref: "#/components/schemas/Rule"}}}
	}
	anyValue := func(doc string) *huma.Schema {
		return &huma.Schema{Description: doc, AnyOf: []*huma.Schema{
			{Type: huma.TypeString}, {Type: huma.TypeNumber, Format: "double"}, {Type: huma.TypeBoolean},
			{Type: huma.TypeArray, Items: &huma.Schema{Type: huma.TypeString}},
			{Type: huma.TypeObject, AdditionalProperties: true},
		}}
	}
	set := func(schema, field string, with func(string) *huma.Schema) {
		if s := schemas[schema]; s != nil && s.Properties[field] != nil {
			s.Properties[field] = with(s.Properties[field].Description)
		}
	}
	set("AuditEvent", "before", resource)
	set("AuditEvent", "after", resource)
	set("FieldChange", "old", anyValue)
	set("FieldChange", "new", anyValue)
	set("ProblemDetail", "value", anyValue)
}

// documentTags describes the tags the operations use.
var documentTags = []*huma.Tag{
	{Name: "Firewalls", Description: "Firewalls: named, labelled sets of ordered filtering policies, with a default action."},
	{Name: "Filtering policies", Description: "A firewall's filtering policies, evaluated by priority, each holding ordered rules."},
	{Name: "Rules", Description: "A policy's rules, evaluated in position order; the first that matches decides."},
	{Name: "Tree", Description: "A firewall's whole tree as one document, read or replaced at once."},
	{Name: "History", Description: "A firewall's revisions: read any kept one, diff two, roll back."},
	{Name: "Change requests", Description: "Proposed changes with their impact, approved by a second person before they apply."},
	{Name: "Groups", Description: "Named address and service groups, shared by the rules of every firewall."},
	{Name: "Evaluation", Description: "What a firewall does with given flows, and why."},
	{Name: "Analysis", Description: "Unreachable, redundant and conflicting rules; searches and comparisons over the whole flow space."},
	{Name: "Export", Description: "A firewall as an nftables or iptables ruleset."},
	{Name: "Import", Description: "An nftables or iptables ruleset read into an empty firewall."},
	{Name: "Audit log", Description: "Who changed what, and when."},
	{Name: "Health", Description: "Probes for load balancers and orchestrators; no token needed."},
}

// finishOperation lists the errors the operation can answer, keeps only
// the response headers it sends, and bounds its parameters and inline
// schemas.
func (a *api) finishOperation(method, path string, op *huma.Operation) {
	if path == evaluatePath {
		// The fast path reads Content-Type as every operation does; it is
		// no parameter of the operation.
		op.Parameters = dropParameter(op.Parameters, "Content-Type")
	}
	created := method == http.MethodPost && op.Responses[strconv.Itoa(http.StatusCreated)] != nil
	for _, res := range op.Responses {
		if !created {
			delete(res.Headers, "Location")
			delete(res.Headers, "Idempotent-Replayed")
		}
	}
	if strings.HasPrefix(path, "/api/") {
		a.addErrors(path, op)
		addRateLimitHeaders(op)
	}
	for _, p := range op.Parameters {
		constrain(p.Name, p.Schema)
	}
	for name, res := range op.Responses {
		for h, hdr := range res.Headers {
			constrain(h, hdr.Schema)
		}
		for _, mt := range res.Content {
			constrain(name, mt.Schema)
		}
	}
	if op.RequestBody != nil {
		for _, mt := range op.RequestBody.Content {
			constrain("", mt.Schema)
		}
	}
}

// addErrors documents the errors every operation of its shape can answer.
func (a *api) addErrors(path string, op *huma.Operation) {
	codes := []int{http.StatusBadRequest, http.StatusTooManyRequests}
	if strings.Contains(path, "{") {
		codes = append(codes, http.StatusNotFound)
	}
	if op.RequestBody != nil {
		codes = append(codes, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	for _, p := range op.Parameters {
		switch p.Name {
		case "If-Match":
			codes = append(codes, http.StatusPreconditionFailed)
		case "Idempotency-Key":
			codes = append(codes, http.StatusUnprocessableEntity)
		}
	}
	for _, code := range codes {
		key := strconv.Itoa(code)
		if op.Responses[key] == nil {
			op.Responses[key] = &huma.Response{Description: errorDocs[code],
				Content: map[string]*huma.MediaType{"application/problem+json": {Schema: a.problems}}}
		}
	}
	tooMany := op.Responses[strconv.Itoa(http.StatusTooManyRequests)]
	tooMany.Headers = map[string]*huma.Param{"Retry-After": {
		Description: "Seconds to wait before the caller has a request again.",
		Schema:      &huma.Schema{Type: huma.TypeInteger, Format: "int32", Minimum: ptr(1.0), Maximum: ptr(float64(math.MaxInt32)), Examples: []any{1}},
	}}
}

// addRateLimitHeaders documents the RateLimit headers that every answer
// to an /api/v1 request carries while rate limiting is on (the default).
func addRateLimitHeaders(op *huma.Operation) {
	for code, res := range op.Responses {
		if !strings.HasPrefix(code, "2") && !strings.HasPrefix(code, "4") {
			continue
		}
		if res.Headers == nil {
			res.Headers = map[string]*huma.Param{}
		}
		res.Headers["RateLimit"] = &huma.Param{
			Description: "The caller's remaining quota (draft-ietf-httpapi-ratelimit-headers): r requests left, t seconds until the bucket is full. Sent while rate limiting is on.",
			Schema:      &huma.Schema{Type: huma.TypeString, MaxLength: ptr(firewall.MaxNameLen), Pattern: `^"[a-z-]+";r=[0-9]+;t=[0-9]+$`, Examples: []any{`"default";r=99;t=1`}},
		}
		res.Headers["RateLimit-Policy"] = &huma.Param{
			Description: "The quota policy: q requests at once, refilled over w seconds. Sent while rate limiting is on.",
			Schema:      &huma.Schema{Type: huma.TypeString, MaxLength: ptr(firewall.MaxNameLen), Pattern: `^"[a-z-]+";q=[0-9]+;w=[0-9]+$`, Examples: []any{`"default";q=500;w=5`}},
		}
	}
}

func dropParameter(ps []*huma.Param, name string) []*huma.Param {
	out := ps[:0]
	for _, p := range ps {
		if !strings.EqualFold(p.Name, name) || p.In != "header" {
			out = append(out, p)
		}
	}
	return out
}

// constrain gives every text, array and integer of s and its parts the
// limits the API keeps to, by field name. name is the field's name, or ""
// for a body.
func constrain(name string, s *huma.Schema) {
	if s == nil || s.Ref != "" {
		return
	}
	switch s.Type {
	case huma.TypeString:
		constrainString(name, s)
	case huma.TypeArray:
		if s.MaxItems == nil {
			n, ok := arrayLimits[name]
			if !ok {
				n = firewall.MaxTreeRules // every list the API sends is about a tree's rules at most
			}
			s.MaxItems = ptr(n)
		}
		constrain(name, s.Items)
	case huma.TypeInteger:
		constrainInteger(s)
	case huma.TypeObject:
		if s.AdditionalProperties != nil && s.MaxProperties == nil && s.Properties == nil {
			s.MaxProperties = ptr(firewall.MaxLabels)
		}
		if extra, ok := s.AdditionalProperties.(*huma.Schema); ok {
			constrain(name, extra)
		}
	}
	for field, prop := range s.Properties {
		constrain(field, prop)
		if prop != nil && prop.Ref == "" && len(prop.Examples) == 0 {
			if v, ok := exampleOf(field, prop); ok {
				prop.Examples = []any{v}
			}
		}
	}
	for _, sub := range append(append(append([]*huma.Schema{}, s.AnyOf...), s.OneOf...), s.AllOf...) {
		constrain(name, sub)
	}
}

func constrainString(name string, s *huma.Schema) {
	if len(s.Enum) > 0 {
		return
	}
	lim, ok := stringLimits[name]
	switch {
	case ok:
	case s.Format == "date-time":
		lim = stringLimit{max: timeLen}
	default:
		lim = stringLimit{max: messageLen, pattern: freeTextPattern}
	}
	if s.MaxLength == nil {
		s.MaxLength = ptr(lim.max)
	}
	if s.Pattern == "" && s.Format == "" && lim.pattern != "" {
		s.Pattern = lim.pattern
	}
}

func constrainInteger(s *huma.Schema) {
	if s.Minimum == nil && s.ExclusiveMinimum == nil {
		s.Minimum = ptr(0.0) // every count, position and revision
	}
	if s.Maximum == nil && s.ExclusiveMaximum == nil {
		limit := float64(math.MaxInt64)
		if s.Format == "int32" {
			limit = math.MaxInt32
		}
		s.Maximum = ptr(limit)
	}
}

func ptr[T any](v T) *T { return &v }
