package k8sschema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A cut-down OpenAPI v2 document with the shapes the real one has: a
// kind in a named group, a core kind, a recursive definition, a Quantity
// and an IntOrString.
const spec = `{"definitions": {
  "io.k8s.api.apps.v1.Deployment": {
    "type": "object",
    "properties": {
      "apiVersion": {"type": "string"},
      "kind": {"type": "string"},
      "spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}
    },
    "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}]
  },
  "io.k8s.api.apps.v1.DeploymentSpec": {
    "type": "object",
    "properties": {
      "replicas": {"type": "integer"},
      "maxSurge": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
      "labels": {"type": "object", "additionalProperties": {"type": "string"}},
      "tree": {"$ref": "#/definitions/io.example.Tree"}
    }
  },
  "io.example.Tree": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/definitions/io.example.Tree"}}}},
  "io.k8s.api.core.v1.ConfigMap": {
    "type": "object",
    "properties": {"data": {"type": "object", "additionalProperties": {"type": "string"}}, "cpu": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}},
    "x-kubernetes-group-version-kind": [{"group": "", "kind": "ConfigMap", "version": "v1"}]
  },
  "io.k8s.api.networking.v1.Ingress": {
    "type": "object",
    "x-kubernetes-group-version-kind": [{"group": "networking.k8s.io", "kind": "Ingress", "version": "v1"}]
  },
  "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
  "io.k8s.api.unused.Thing": {"type": "object"}
}}`

func TestFileName(t *testing.T) {
	tests := []struct{ group, version, kind, want string }{
		{"", "v1", "Service", "service-v1.json"},
		{"apps", "v1", "Deployment", "deployment-apps-v1.json"},
		{"networking.k8s.io", "v1", "Ingress", "ingress-networking-v1.json"},
		{"autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscaler-autoscaling-v2.json"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FileName(tt.group, tt.version, tt.kind); got != tt.want {
				t.Errorf("FileName(%q, %q, %q) = %q, want %q", tt.group, tt.version, tt.kind, got, tt.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	dir := t.TempDir()
	n, err := Generate(strings.NewReader(spec), dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}
	sort.Strings(files)
	want := []string{"configmap-v1.json", "deployment-apps-v1.json", "ingress-networking-v1.json"}
	if diff := cmp.Diff(want, files); diff != "" || n != len(want) {
		t.Fatalf("files (-want +got):\n%s\nn = %d", diff, n)
	}

	deploy := read(t, filepath.Join(dir, "deployment-apps-v1.json"))
	if deploy["additionalProperties"] != false {
		t.Errorf("the root object is not strict: additionalProperties = %v", deploy["additionalProperties"])
	}
	defs, _ := deploy["definitions"].(map[string]any)
	var names []string
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	wantDefs := []string{"io.example.Tree", "io.k8s.api.apps.v1.DeploymentSpec", "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
	if diff := cmp.Diff(wantDefs, names); diff != "" {
		t.Errorf("bundled definitions (-want +got):\n%s", diff)
	}
	spec, _ := defs["io.k8s.api.apps.v1.DeploymentSpec"].(map[string]any)
	if spec["additionalProperties"] != false {
		t.Errorf("nested objects are not strict: %v", spec)
	}
	labels := spec["properties"].(map[string]any)["labels"].(map[string]any)
	if diff := cmp.Diff(map[string]any{"type": "string"}, labels["additionalProperties"]); diff != "" {
		t.Errorf("a map's value schema was changed (-want +got):\n%s", diff)
	}
	intOrString, _ := json.Marshal(defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"])
	if string(intOrString) != `{"oneOf":[{"type":"string"},{"type":"integer"}]}` {
		t.Errorf("IntOrString = %s, want string or integer", intOrString)
	}

	cm := read(t, filepath.Join(dir, "configmap-v1.json"))
	quantity, _ := json.Marshal(cm["definitions"].(map[string]any)["io.k8s.apimachinery.pkg.api.resource.Quantity"])
	if string(quantity) != `{"oneOf":[{"type":"string"},{"type":"number"}]}` {
		t.Errorf("Quantity = %s, want string or number", quantity)
	}
	if _, has := read(t, filepath.Join(dir, "ingress-networking-v1.json"))["additionalProperties"]; has {
		t.Error("an object without declared properties was closed")
	}
}

func TestGenerateRejects(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		{"not JSON", `{`, "decode"},
		{"no definitions", `{"definitions": {}}`, "no definitions"},
		{"bad extension", `{"definitions": {"a": {"x-kubernetes-group-version-kind": "apps"}}}`, "x-kubernetes-group-version-kind"},
		{"two definitions for one file", `{"definitions": {
			"a": {"x-kubernetes-group-version-kind": [{"group": "x.io", "kind": "K", "version": "v1"}]},
			"b": {"x-kubernetes-group-version-kind": [{"group": "x.example.com", "kind": "K", "version": "v1"}]}}}`, "both map to k-x-v1.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(strings.NewReader(tt.spec), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error mentioning %q", err, tt.want)
			}
		})
	}
}

func read(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              properties:
                port:
                  x-kubernetes-int-or-string: true
                  anyOf: [{type: integer}, {type: string}]
                extra:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                  properties: {known: {type: string}}
    - name: v1alpha1
      served: false
      storage: false
      schema:
        openAPIV3Schema: {type: object}
`

func TestGenerateCRD(t *testing.T) {
	dir := t.TempDir()
	n, err := GenerateCRD([]byte(crd), dir)
	if err != nil || n != 1 {
		t.Fatalf("GenerateCRD = %d, %v; want 1 file", n, err)
	}
	s := read(t, filepath.Join(dir, "widget-example-v1.json"))
	spec := s["properties"].(map[string]any)["spec"].(map[string]any)
	if s["additionalProperties"] != false || spec["additionalProperties"] != false {
		t.Errorf("the CRD schema is not strict: %v", s)
	}
	props := spec["properties"].(map[string]any)
	port, _ := json.Marshal(props["port"])
	if string(port) != `{"oneOf":[{"type":"string"},{"type":"integer"}]}` {
		t.Errorf("port = %s, want string or integer", port)
	}
	if _, closed := props["extra"].(map[string]any)["additionalProperties"]; closed {
		t.Error("an object that preserves unknown fields was closed")
	}
	if _, err := os.Stat(filepath.Join(dir, "widget-example-v1alpha1.json")); !os.IsNotExist(err) {
		t.Errorf("a version that is not served got a schema: %v", err)
	}
	if _, err := GenerateCRD([]byte("kind: ConfigMap\n"), dir); err == nil {
		t.Error("a ConfigMap was taken for a CRD")
	}
}
