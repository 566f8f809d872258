package apiclient_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fireflow/fireflow/internal/httpapi"
)

// TestClientIsCurrent regenerates the client from the served document and
// fails when it differs from the committed one: run `make apiclient`.
func TestClientIsCurrent(t *testing.T) {
	doc, err := httpapi.Document("", "/openapi-3.0.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	docPath := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(dir, "client.gen.go")
	cmd := exec.Command("go", "tool", "-modfile=../../tools/go.mod", "oapi-codegen",
		"-config", "oapi-codegen.yaml", "-o", gen, docPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, out)
	}
	want, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("internal/apiclient/client.gen.go is stale: the API changed; run `make apiclient` and commit the result")
	}
}
