package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The git workflow: get tree into a file, edit it, apply it (dry run, then
// for real), apply again for no change; YAML does what JSON does.
func TestApplyAndGetTreeCommands(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	res, err := s.post(s.url+"/api/v1/firewalls", strings.NewReader(`{"name":"edge"}`))
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create firewall: %v %v", res, err)
	}
	var fw struct{ ID string }
	if err := json.NewDecoder(res.Body).Decode(&fw); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	env := map[string]string{"FIREFLOW_TOKEN": s.token}
	getenv := func(k string) string { return env[k] }
	dir := t.TempDir()
	yamlFile := filepath.Join(dir, "tree.yaml")
	if err := os.WriteFile(yamlFile, []byte(`name: edge
default_action: deny
policies:
  - name: web
    priority: 10
    rules:
      - name: https
        action: allow
        protocol: tcp
        destination_ports: ["443"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	apply := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := run(ctx, append([]string{"apply", "--url", s.url, "--firewall", fw.ID}, args...), getenv, &out, io.Discard); err != nil {
			t.Fatalf("apply %v: %v", args, err)
		}
		return out.String()
	}
	if out := apply("-f", yamlFile, "--dry-run"); !strings.Contains(out, "dry run") || !strings.Contains(out, `rule "https" added`) {
		t.Fatalf("dry run printed:\n%s", out)
	}
	if out := apply("-f", yamlFile); !strings.Contains(out, "applied: revision 2") {
		t.Fatalf("apply printed:\n%s", out)
	}
	var got strings.Builder
	if err := run(ctx, []string{"get", "tree", "--url", s.url, "--firewall", fw.ID}, getenv, &got, io.Discard); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(dir, "tree.json")
	if err := os.WriteFile(jsonFile, []byte(got.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := apply("-f", jsonFile); !strings.Contains(out, "no change") {
		t.Fatalf("applying the tree just read printed:\n%s", out)
	}
	if out := apply("-f", yamlFile); !strings.Contains(out, "no change") {
		t.Fatalf("applying the YAML again printed:\n%s", out)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: edge\npolicies:\n  - name: web\n    priority: 10\n    rules:\n      - action: maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(ctx, []string{"apply", "--url", s.url, "--firewall", fw.ID, "-f", bad}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "policies[0].rules[0].action") {
		t.Fatalf("a bad file: %v, want the field named", err)
	}
}

// FuzzTreeJSON feeds tree files, JSON or YAML, to the reader apply uses: it
// returns a document or an error, never panics, and what it returns
// decodes as a tree.
func FuzzTreeJSON(f *testing.F) {
	f.Add("tree.yaml", []byte("name: edge\npolicies:\n  - name: web\n    priority: 10\n    rules:\n      - action: allow\n"))
	f.Add("tree.json", []byte(`{"name":"edge","policies":[{"name":"a","priority":1,"rules":[{"action":"deny","sources":["10.0.0.0/8"]}]}]}`))
	f.Add("tree.yml", []byte("name: [unclosed\n"))
	f.Add("tree", []byte("&a [*a]"))
	f.Add("tree.yaml", []byte("name: edge\ndefault_action: deny\nlabels: {env: prod}\n"))
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		out, err := treeJSON(name, b)
		if err != nil {
			return
		}
		if _, err := treeJSON("again.json", out); err != nil {
			t.Fatalf("the JSON made from %q does not read back: %v", b, err)
		}
	})
}
