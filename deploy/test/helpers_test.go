// Package deploytest checks FireFlow's delivery artefacts: the Helm chart,
// the Compose stack, the Dockerfile, the release targets and the binary the
// image runs. It is its own module, so that compose-go and buildkit never
// enter the service's go.mod; `make test-deploy` runs it.
package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"
)

// repoRoot is the repository this module lives in (deploy/test/../..).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

var (
	toolMu    sync.Mutex
	toolPaths = map[string]string{}
)

// tool returns the path of a developer tool pinned in tools/go.mod,
// building it if needed (go tool -n prints the cached binary's path).
func tool(t *testing.T, name string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	if p, ok := toolPaths[name]; ok {
		return p
	}
	root := repoRoot(t)
	cmd := exec.Command("go", "tool", "-modfile="+filepath.Join(root, "tools", "go.mod"), "-n", name)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool -n %s: %v\n%s", name, err, stderrOf(err))
	}
	p := strings.TrimSpace(string(out))
	toolPaths[name] = p
	return p
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// runCmd runs a command and returns its combined output, failing the test
// if it fails.
func runCmd(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := tryCmd(dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// tryCmd runs a command and returns its combined output and error.
func tryCmd(dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// object is one Kubernetes manifest, decoded from YAML.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }

func (o object) name() string { s, _ := dig(o, "metadata", "name").(string); return s }

// dig follows keys (strings) and indexes (ints) into decoded YAML and
// returns nil where the path does not exist.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				if o, isObj := v.(object); isObj {
					m = o
				} else {
					return nil
				}
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// decodeManifests splits a multi-document YAML stream into objects.
func decodeManifests(t *testing.T, stream string) []object {
	t.Helper()
	var objs []object
	for _, doc := range strings.Split(stream, "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("decode manifest: %v\n%s", err, doc)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// find returns the only object of a kind (and name suffix, if given).
func find(t *testing.T, objs []object, kind string, nameSuffix string) object {
	t.Helper()
	var found []object
	for _, o := range objs {
		if o.kind() == kind && strings.HasSuffix(o.name(), nameSuffix) {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s named *%s, found %d", kind, nameSuffix, len(found))
	}
	return found[0]
}

func kinds(objs []object) []string {
	var ks []string
	for _, o := range objs {
		ks = append(ks, fmt.Sprintf("%s/%s", o.kind(), o.name()))
	}
	return ks
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
