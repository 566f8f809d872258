// Package k8sschema turns the Kubernetes OpenAPI v2 document that the
// k8s.io/kubernetes module ships (api/openapi-spec/swagger.json), and
// CustomResourceDefinitions, into kubeconform's schema layout: one
// standalone, strict JSON schema per kind, named
// <kind>-<group>-<version>.json, so that manifests are validated offline
// against the exact versions pinned.
package k8sschema

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

const refPrefix = "#/definitions/"

// Definitions whose OpenAPI type is narrower than what the API server
// accepts: a Quantity may be written as a number, an IntOrString as either.
var widened = map[string]map[string]any{
	"io.k8s.apimachinery.pkg.api.resource.Quantity": {
		"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}},
	},
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
		"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}},
	},
}

type gvk struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// FileName is where kubeconform's "{{ .ResourceKind }}{{ .KindSuffix }}.json"
// template looks for the schema of a kind: for apps/v1 Deployment,
// deployment-apps-v1.json; for v1 Service, service-v1.json; for
// networking.k8s.io/v1 Ingress, ingress-networking-v1.json.
func FileName(group, version, kind string) string {
	suffix := "-" + strings.ToLower(version)
	if group != "" {
		suffix = "-" + strings.ToLower(strings.Split(group, ".")[0]) + suffix
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// Generate reads an OpenAPI v2 document from spec and writes a schema for
// every kind it defines into dir. Each schema carries the definitions it
// refers to, so it needs no other file, and every object with declared
// properties rejects unknown ones (kubeconform -strict). It returns the
// number of files written.
func Generate(spec io.Reader, dir string) (int, error) {
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.NewDecoder(spec).Decode(&doc); err != nil {
		return 0, fmt.Errorf("decode OpenAPI document: %w", err)
	}
	if len(doc.Definitions) == 0 {
		return 0, fmt.Errorf("the OpenAPI document has no definitions")
	}
	defs := make(map[string]any, len(doc.Definitions))
	for name, def := range doc.Definitions {
		if w, ok := widened[name]; ok {
			defs[name] = w
			continue
		}
		defs[name] = strict(def)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create schema directory: %w", err)
	}
	written := map[string]string{}
	names := make([]string, 0, len(doc.Definitions))
	for name := range doc.Definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		kinds, err := kindsOf(doc.Definitions[name])
		if err != nil {
			return 0, fmt.Errorf("definition %s: %w", name, err)
		}
		for _, k := range kinds {
			file := FileName(k.Group, k.Version, k.Kind)
			if prev, dup := written[file]; dup {
				return 0, fmt.Errorf("%s and %s both map to %s", prev, name, file)
			}
			written[file] = name
			if err := writeSchema(filepath.Join(dir, file), name, defs); err != nil {
				return 0, err
			}
		}
	}
	return len(written), nil
}

// GenerateCRD reads a CustomResourceDefinition (YAML or JSON) and writes
// the schema of each of its served versions into dir, strict like the
// built-in kinds, so that custom resources are validated offline too. It
// returns the number of files written.
func GenerateCRD(crd []byte, dir string) (int, error) {
	js, err := yaml.YAMLToJSON(crd)
	if err != nil {
		return 0, fmt.Errorf("decode CRD: %w", err)
	}
	var doc struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Served bool   `json:"served"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return 0, fmt.Errorf("decode CRD: %w", err)
	}
	if doc.Kind != "CustomResourceDefinition" || doc.Spec.Group == "" || doc.Spec.Names.Kind == "" {
		return 0, fmt.Errorf("not a CustomResourceDefinition with a group and a kind")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create schema directory: %w", err)
	}
	n := 0
	for _, v := range doc.Spec.Versions {
		if !v.Served {
			continue
		}
		if v.Schema.OpenAPIV3Schema == nil {
			return n, fmt.Errorf("%s %s has no openAPIV3Schema", doc.Spec.Names.Kind, v.Name)
		}
		schema := strict(v.Schema.OpenAPIV3Schema)
		schema["$schema"] = "http://json-schema.org/draft-07/schema#"
		b, err := json.Marshal(schema)
		if err != nil {
			return n, fmt.Errorf("encode %s %s: %w", doc.Spec.Names.Kind, v.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, FileName(doc.Spec.Group, v.Name, doc.Spec.Names.Kind)), b, 0o644); err != nil {
			return n, fmt.Errorf("write schema: %w", err)
		}
		n++
	}
	return n, nil
}

// kindsOf reads the x-kubernetes-group-version-kind extension: the kinds a
// definition is the top-level object of.
func kindsOf(def map[string]any) ([]gvk, error) {
	raw, ok := def["x-kubernetes-group-version-kind"]
	if !ok {
		return nil, nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var kinds []gvk
	if err := json.Unmarshal(b, &kinds); err != nil {
		return nil, fmt.Errorf("x-kubernetes-group-version-kind: %w", err)
	}
	return kinds, nil
}

// writeSchema writes the definition root with every definition it reaches.
func writeSchema(path, root string, defs map[string]any) error {
	reached := map[string]any{}
	collect(defs[root], defs, reached)
	schema := map[string]any{}
	for k, v := range defs[root].(map[string]any) {
		schema[k] = v
	}
	schema["$schema"] = "http://json-schema.org/draft-07/schema#"
	if len(reached) > 0 {
		schema["definitions"] = reached
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write schema: %w", err)
	}
	return nil
}

// collect adds to reached every definition that node refers to,
// transitively; recursive definitions end the walk where they repeat.
func collect(node any, defs, reached map[string]any) {
	switch n := node.(type) {
	case map[string]any:
		if ref, ok := n["$ref"].(string); ok && strings.HasPrefix(ref, refPrefix) {
			name := strings.TrimPrefix(ref, refPrefix)
			if _, seen := reached[name]; !seen {
				if def, ok := defs[name]; ok {
					reached[name] = def
					collect(def, defs, reached)
				}
			}
		}
		for _, v := range n {
			collect(v, defs, reached)
		}
	case []any:
		for _, v := range n {
			collect(v, defs, reached)
		}
	}
}

// strict returns a copy of a schema node in which every object that
// declares properties forbids others, as kubeconform's strict schemas do,
// unless it says it keeps unknown fields. CRD schemas mark an IntOrString
// with an extension instead of a format; both become a oneOf.
func strict(node map[string]any) map[string]any {
	if node["x-kubernetes-int-or-string"] == true || node["format"] == "int-or-string" {
		return map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	}
	out := make(map[string]any, len(node)+1)
	for k, v := range node {
		switch k {
		case "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = strictAny(p)
			}
			out[k] = props
		default:
			out[k] = strictAny(v)
		}
	}
	if _, has := node["properties"]; has && node["x-kubernetes-preserve-unknown-fields"] != true {
		if _, open := node["additionalProperties"]; !open {
			out["additionalProperties"] = false
		}
	}
	return out
}

func strictAny(v any) any {
	switch n := v.(type) {
	case map[string]any:
		return strict(n)
	case []any:
		out := make([]any, len(n))
		for i, e := range n {
			out[i] = strictAny(e)
		}
		return out
	default:
		return v
	}
}
