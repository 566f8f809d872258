package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// finishedDocument is the served /openapi.json, decoded as plain JSON.
func finishedDocument(t *testing.T) map[string]any {
	t.Helper()
	raw, err := Document("test", "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("decode document: %v", err)
	}
	return doc
}

// TestOpenAPIDocumentsOnlyWhatIsSent checks the headers and parameters
// that the issue found documented but never sent or read.
func TestOpenAPIDocumentsOnlyWhatIsSent(t *testing.T) {
	doc := finishedDocument(t)
	paths := doc["paths"].(map[string]any)
	for path, item := range paths {
		for method, raw := range item.(map[string]any) {
			op := raw.(map[string]any)
			key := strings.ToUpper(method) + " " + path
			created := op["responses"].(map[string]any)["201"] != nil
			for code, res := range op["responses"].(map[string]any) {
				headers, _ := res.(map[string]any)["headers"].(map[string]any)
				for _, h := range []string{"Location", "Idempotent-Replayed"} {
					if headers[h] != nil && !created {
						t.Errorf("%s %s documents %s, which only a create sends", key, code, h)
					}
				}
				if code == "429" && headers["Retry-After"] == nil {
					t.Errorf("%s 429 lacks Retry-After", key)
				}
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				if p := p.(map[string]any); path == evaluatePath && p["name"] == "Content-Type" {
					t.Errorf("%s documents a Content-Type parameter", key)
				}
			}
		}
	}
}

// TestOpenAPIIsComplete checks that tags are declared, servers given, and
// that each operation lists the errors its shape can cause.
func TestOpenAPIIsComplete(t *testing.T) {
	doc := finishedDocument(t)
	if servers, _ := doc["servers"].([]any); len(servers) == 0 {
		t.Error("no servers")
	}
	declared := map[string]bool{}
	for _, tag := range doc["tags"].([]any) {
		tag := tag.(map[string]any)
		if tag["description"] == "" {
			t.Errorf("tag %v has no description", tag["name"])
		}
		declared[tag["name"].(string)] = true
	}
	for path, item := range doc["paths"].(map[string]any) {
		for method, raw := range item.(map[string]any) {
			op := raw.(map[string]any)
			key := strings.ToUpper(method) + " " + path
			for _, tag := range op["tags"].([]any) {
				if !declared[tag.(string)] {
					t.Errorf("%s: tag %v is not declared", key, tag)
				}
			}
			if !strings.HasPrefix(path, "/api/") {
				continue
			}
			want := []string{"400", "401", "403", "429"}
			if strings.Contains(path, "{") {
				want = append(want, "404")
			}
			if op["requestBody"] != nil {
				want = append(want, "413", "415")
			}
			res := op["responses"].(map[string]any)
			for _, code := range want {
				if res[code] == nil {
					t.Errorf("%s does not list %s", key, code)
				}
			}
		}
	}
}

// TestOpenAPIBoundsEveryField walks every schema of the document: each
// text has a maxLength (or an enum), each array a maxItems, each integer
// both bounds, and each field a type.
func TestOpenAPIBoundsEveryField(t *testing.T) {
	doc := finishedDocument(t)
	var walk func(where string, s map[string]any)
	walk = func(where string, s map[string]any) {
		if s == nil || s["$ref"] != nil {
			return
		}
		types := fmt.Sprint(s["type"])
		switch {
		case strings.Contains(types, "string") && s["maxLength"] == nil && s["enum"] == nil:
			t.Errorf("%s: a string without maxLength", where)
		case strings.Contains(types, "array") && s["maxItems"] == nil:
			t.Errorf("%s: an array without maxItems", where)
		case strings.Contains(types, "integer") && (s["minimum"] == nil || s["maximum"] == nil):
			t.Errorf("%s: an integer without bounds", where)
		case s["type"] == nil && s["anyOf"] == nil && where != "" && !strings.HasSuffix(where, "$schema"):
			t.Errorf("%s: no type", where)
		}
		for name, p := range asMap(s["properties"]) {
			walk(where+"."+name, asMap(p))
		}
		for _, name := range asSlice(s["required"]) {
			if prop := asMap(asMap(s["properties"])[name.(string)]); prop != nil && prop["default"] != nil {
				t.Errorf("%s.%v: required, yet it has a default", where, name)
			}
		}
		walk(where+"[]", asMap(s["items"]))
		walk(where+"{}", asMap(s["additionalProperties"]))
		for _, sub := range asSlice(s["anyOf"]) {
			walk(where+"|", asMap(sub))
		}
	}
	for name, s := range asMap(asMap(doc["components"])["schemas"]) {
		walk(name, asMap(s))
	}
	for path, item := range asMap(doc["paths"]) {
		for method, op := range asMap(item) {
			for _, p := range asSlice(asMap(op)["parameters"]) {
				walk(method+" "+path+" "+fmt.Sprint(asMap(p)["name"]), asMap(asMap(p)["schema"]))
			}
		}
	}
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }

// sample builds a request body from a schema's examples, as a client
// generator or Swagger UI does: the schema's own example if it has one,
// else each field's.
func sample(doc map[string]any, s map[string]any) any {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return sample(doc, asMap(asMap(asMap(doc["components"])["schemas"])[name]))
	}
	if ex := asSlice(s["examples"]); len(ex) > 0 {
		return ex[0]
	}
	props := asMap(s["properties"])
	if props == nil {
		return nil
	}
	out := map[string]any{}
	for name, p := range props {
		if name == "$schema" {
			continue
		}
		if v := sample(doc, asMap(p)); v != nil {
			out[name] = v
		}
	}
	return out
}

// TestOpenAPIExamplesMakeValidRequests sends the sample bodies the
// document's examples make to a real server: every write accepts them.
func TestOpenAPIExamplesMakeValidRequests(t *testing.T) {
	s := newTestServer(t)
	doc := finishedDocument(t)
	body := func(path, method string) any {
		op := asMap(asMap(asMap(doc["paths"])[path])[method])
		content := asMap(asMap(op["requestBody"])["content"])
		for _, mt := range content {
			return sample(doc, asMap(asMap(mt)["schema"]))
		}
		t.Fatalf("%s %s has no request body", method, path)
		return nil
	}
	fw := s.must(http.StatusCreated, "POST", "/api/v1/firewalls", body(firewallsPath, "post"))
	fwPath := "/api/v1/firewalls/" + fw["id"].(string)
	pol := s.must(http.StatusCreated, "POST", fwPath+"/filtering-policies", body(policiesPath, "post"))
	polPath := fwPath + "/filtering-policies/" + pol["id"].(string)
	rule := s.must(http.StatusCreated, "POST", polPath+"/rules", body(rulesPath, "post"))
	ruleURL := polPath + "/rules/" + rule["id"].(string)
	s.must(http.StatusOK, "PATCH", fwPath, body(firewallPath, "patch"), "Content-Type", "application/merge-patch+json")
	s.must(http.StatusOK, "PATCH", polPath, body(policyPath, "patch"), "Content-Type", "application/merge-patch+json")
	s.must(http.StatusOK, "PATCH", ruleURL, body(rulePath, "patch"), "Content-Type", "application/merge-patch+json")
	s.must(http.StatusOK, "POST", ruleURL+"/move", body(ruleMovePath, "post"))
	s.must(http.StatusOK, "POST", fwPath+"/evaluate", body(evaluatePath, "post"))
	s.must(http.StatusOK, "POST", fwPath+"/search", body(searchPath, "post"))
}
