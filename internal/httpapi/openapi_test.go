package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// documentationRoutes are served for the documentation itself and are
// not API operations.
var documentationRoutes = []string{
	"GET /openapi.json", "GET /openapi.yaml", "GET /openapi-3.0.json", "GET /openapi-3.0.yaml",
	"GET /docs/swagger-ui/", "GET /docs/swagger-ui",
	"GET /ui/", "GET /ui", // the web console, a client of the documented API
}

func operations(doc *huma.OpenAPI) map[string]*huma.Operation {
	ops := map[string]*huma.Operation{}
	for path, item := range doc.Paths {
		for method, op := range map[string]*huma.Operation{
			"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete,
		} {
			if op != nil {
				ops[method+" "+path] = op
			}
		}
	}
	return ops
}

// TestOpenAPIMatchesRoutes fails when a route is served without being
// documented, or documented without being served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := newTestServer(t)
	documented := operations(s.api.OpenAPI())
	served := map[string]bool{}
	for _, pattern := range s.routes {
		if slices.Contains(documentationRoutes, pattern) {
			continue
		}
		served[pattern] = true
		if documented[pattern] == nil {
			t.Errorf("route %s is served but not in the OpenAPI document", pattern)
		}
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("operation %s is documented but not served", key)
		}
	}
	if len(served) < 19 {
		t.Errorf("only %d routes served; the API has at least 19", len(served))
	}
}

// TestOpenAPIIsDescribed checks that every operation, parameter, field and
// error response carries a description, so that Swagger UI explains them.
func TestOpenAPIIsDescribed(t *testing.T) {
	s := newTestServer(t)
	doc := s.api.OpenAPI()
	for key, op := range operations(doc) {
		if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
			t.Errorf("%s lacks an id, a summary or a tag", key)
		}
		for _, p := range op.Parameters {
			if p.Description == "" {
				t.Errorf("%s: parameter %s has no description", key, p.Name)
			}
		}
		for code, res := range op.Responses {
			if res.Description == "" {
				t.Errorf("%s: response %s has no description", key, code)
			}
			if code >= "400" && res.Content["application/problem+json"] == nil {
				t.Errorf("%s: error response %s is not documented as problem+json", key, code)
			}
		}
	}
	for name, schema := range doc.Components.Schemas.Map() {
		for field, prop := range schema.Properties {
			if prop.Description == "" && prop.Ref == "" && field != "$schema" {
				t.Errorf("schema %s: field %s has no description", name, field)
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	s := newTestServer(t)
	res := s.do("GET", "/openapi.json", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", res.Status)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") || doc.Paths["/api/v1/firewalls/{firewall_id}/filtering-policies/{policy_id}/rules/{rule_id}/move"] == nil {
		t.Fatalf("unexpected document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	yaml := s.do("GET", "/openapi.yaml", nil)
	if yaml.Status != http.StatusOK || !strings.Contains(string(yaml.Body), "openapi: 3.1") {
		t.Fatalf("GET /openapi.yaml: %d %.100s", yaml.Status, yaml.Body)
	}
}
