package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shadowedTree has a rule hidden by the union of the two before it.
const shadowedTree = `{
  "name": "edge",
  "policies": [{
    "id": "web", "name": "web", "priority": 10,
    "rules": [
      {"id": "low", "action": "allow", "protocol": "tcp", "sources": ["10.0.0.0/25"], "destination_ports": ["443"]},
      {"id": "high", "action": "deny", "protocol": "tcp", "sources": ["10.0.0.128/25"], "destination_ports": ["443"]},
      {"id": "whole", "action": "allow", "protocol": "tcp", "sources": ["10.0.0.0/24"], "destination_ports": ["443"]}
    ]
  }]
}`

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tree.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAnalyzeFile(t *testing.T) {
	shadowed := writeFile(t, shadowedTree)
	clean := writeFile(t, `{"name": "edge", "policies": [{"name": "web", "priority": 10, "rules": [{"action": "allow", "protocol": "udp"}]}]}`)
	invalid := writeFile(t, `{"name": "edge", "policies": [{"name": "web", "priority": 10, "rules": [{"action": "allow", "sources": ["10.0.0.1/8"]}]}]}`)
	noEnv := func(string) string { return "" }
	tests := []struct {
		name     string
		args     []string
		wantErr  string // "" for success
		wantOut  []string
		findings bool // the error is errFindings
	}{
		{name: "shadowed fails", args: []string{"--file", shadowed}, wantErr: "1 findings", findings: true,
			wantOut: []string{"error   unreachable", "rule whole is unreachable", "rule low (allow), rule high (deny)"}},
		{name: "fail-on none", args: []string{"--file", shadowed, "--fail-on", "none"}, wantOut: []string{"unreachable"}},
		{name: "other kinds only", args: []string{"--file", shadowed, "--kinds", "conflict,disabled"}},
		{name: "clean", args: []string{"--file", clean}, wantOut: []string{"0 findings"}},
		{name: "json", args: []string{"--file", shadowed, "--json", "--fail-on", "warning"}, wantErr: "findings", findings: true, wantOut: []string{`"kind": "unreachable"`, `"different_action": true`}},
		{name: "invalid tree", args: []string{"--file", invalid}, wantErr: "policies[0].rules[0].sources[0]"},
		{name: "missing file", args: []string{"--file", filepath.Join(t.TempDir(), "none.json")}, wantErr: "no such file"},
		{name: "bad fail-on", args: []string{"--file", shadowed, "--fail-on", "sometimes"}, wantErr: "--fail-on"},
		{name: "bad kind", args: []string{"--file", shadowed, "--kinds", "shadowed"}, wantErr: "not a kind"},
		{name: "both modes", args: []string{"--file", shadowed, "--url", "http://127.0.0.1:1", "--firewall", "x"}, wantErr: "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), append([]string{"analyze"}, tt.args...), noEnv, &out, io.Discard)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error %v\n%s", err, out.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			case tt.findings != errors.Is(err, errFindings):
				t.Fatalf("error %v: findings error %v, want %v", err, errors.Is(err, errFindings), tt.findings)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestAnalyzeServer runs the CLI against a real server.
func TestAnalyzeServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	fw := s.create(t, "/api/v1/firewalls", `{"name":"edge"}`)
	pol := s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies", `{"name":"web","priority":10,"default_action":"allow"}`)
	rules := "/api/v1/firewalls/" + fw + "/filtering-policies/" + pol + "/rules"
	s.create(t, rules, `{"action":"allow","protocol":"tcp","destination_ports":["443"]}`)
	later := s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies", `{"name":"never","priority":20}`)

	env := map[string]string{"FIREFLOW_TOKEN": s.token}
	var out strings.Builder
	err := run(ctx, []string{"analyze", "--url", s.url, "--firewall", fw}, func(k string) string { return env[k] }, &out, io.Discard)
	if !errors.Is(err, errFindings) {
		t.Fatalf("error %v, want findings\n%s", err, out.String())
	}
	for _, want := range []string{"unreachable_policy", later, "redundant", "example: tcp"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(ctx, []string{"analyze", "--url", s.url, "--firewall", fw, "--kinds", "disabled"}, func(k string) string { return env[k] }, io.Discard, io.Discard); err != nil {
		t.Fatalf("only disabled: %v", err)
	}
	err = run(ctx, []string{"analyze", "--url", s.url, "--firewall", fw}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("without a token: %v, want a 401", err)
	}
}
