package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	fw := s.create(t, "/api/v1/firewalls", `{"name":"edge"}`)
	pol := s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies", `{"name":"web","priority":10,"default_action":"next"}`)
	rule := s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies/"+pol+"/rules",
		`{"action":"allow","protocol":"tcp","destinations":["10.0.0.0/8"],"destination_ports":["443"]}`)
	env := map[string]string{"FIREFLOW_TOKEN": s.token}
	getenv := func(k string) string { return env[k] }

	var out strings.Builder
	if err := run(ctx, []string{"export", "--url", s.url, "--firewall", fw, "--format", "iptables", "--stateful"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"revision 3", "*filter", "--ctstate RELATED,ESTABLISHED", "-d 10.0.0.0/8 -m tcp --dport 443 -m comment --comment \"rule " + rule + "\" -j ACCEPT"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	err := run(ctx, []string{"export", "--url", s.url, "--firewall", fw, "--format", "pf"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "format") {
		t.Fatalf("bad format: %v", err)
	}
	err = run(ctx, []string{"export", "--url", s.url, "--firewall", "nope"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown firewall: %v, want a 404", err)
	}
}

func TestExportCommandOffline(t *testing.T) {
	doc := []byte(`{"name":"lab","default_action":"deny","policies":[{"name":"web","priority":10,
		"rules":[{"name":"https","action":"allow","protocol":"tcp","destination_ports":["443"]}]}]}`)
	path := filepath.Join(t.TempDir(), "tree.json")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(context.Background(), []string{"export", "--file", path, "--hook", "input"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "table inet fireflow_lab {") || !strings.Contains(out.String(), "hook input") ||
		!strings.Contains(out.String(), "tcp dport 443 accept") {
		t.Fatalf("offline export:\n%.2000s", out.String())
	}
	if err := run(context.Background(), []string{"export", "--file", path, "--firewall", "x"}, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
		t.Fatal("--file with --firewall: no error")
	}
}
