package httpapi

import (
	"encoding/json"
	"fmt"
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
