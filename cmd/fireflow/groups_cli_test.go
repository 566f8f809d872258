package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportIPSetFile: --ipset-file writes the ipset definitions to the
// file and the iptables ruleset that matches on them to stdout, from a
// server and offline; nftables refuses it.
func TestExportIPSetFile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	s.create(t, "/api/v1/address-groups", `{"name":"web","addresses":["10.1.0.0/24","2001:db8::/64"]}`)
	fw := s.create(t, "/api/v1/firewalls", `{"name":"edge"}`)
	pol := s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies", `{"name":"web","priority":10,"default_action":"next"}`)
	s.create(t, "/api/v1/firewalls/"+fw+"/filtering-policies/"+pol+"/rules", `{"action":"allow","destination_groups":["web"]}`)
	env := map[string]string{"FIREFLOW_TOKEN": s.token}
	getenv := func(k string) string { return env[k] }
	dir := t.TempDir()

	check := func(name string, args []string) {
		t.Helper()
		sets := filepath.Join(dir, name+".ipset")
		var out strings.Builder
		if err := run(ctx, append(args, "--format", "iptables", "--ipset-file", sets), getenv, &out, io.Discard); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(sets)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(string(b), "create g_web_v4 hash:net family inet -exist") || !strings.Contains(string(b), "add g_web_v4 10.1.0.0/24") {
			t.Errorf("%s: ipset file:\n%s", name, b)
		}
		if !strings.Contains(out.String(), "*filter") || !strings.Contains(out.String(), "--match-set g_web_v4 dst") || strings.Contains(out.String(), "create g_web") {
			t.Errorf("%s: ruleset:\n%s", name, out.String())
		}
	}
	check("server", []string{"export", "--url", s.url, "--firewall", fw})

	var tree strings.Builder
	if err := run(ctx, []string{"get", "tree", "--url", s.url, "--firewall", fw}, getenv, &tree, io.Discard); err != nil {
		t.Fatalf("get tree: %v", err)
	}
	doc := filepath.Join(dir, "tree.json")
	if err := os.WriteFile(doc, []byte(tree.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	check("offline", []string{"export", "--file", doc})

	err := run(ctx, []string{"export", "--url", s.url, "--firewall", fw, "--format", "nftables", "--ipset-file", filepath.Join(dir, "x")}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "ipset") {
		t.Fatalf("nftables with --ipset-file: %v", err)
	}
}

// TestImportGroupsFlag: the CLI imports named sets as groups, prints
// them, and passes --groups on.
func TestImportGroupsFlag(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	env := map[string]string{"FIREFLOW_TOKEN": s.token}
	getenv := func(k string) string { return env[k] }
	file := "../../internal/export/testdata/import/sets.nft.json"
	fw := s.create(t, "/api/v1/firewalls", `{"name":"a"}`)
	var out strings.Builder
	if err := run(ctx, []string{"import", "--url", s.url, "--firewall", fw, "--format", "nftables", "--chain", "filt/forwardc", "--apply", "--partial", "-f", file}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`address group "blocked" for set @blocked: create (`, "deny any from @blocked"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	s.create(t, "/api/v1/address-groups", `{"name":"blocked-2","addresses":["192.0.2.0/24"]}`)
	other := s.create(t, "/api/v1/firewalls", `{"name":"b"}`)
	out.Reset()
	if err := run(ctx, []string{"import", "--url", s.url, "--firewall", other, "--format", "nftables", "--chain", "filt/forwardc", "--groups", "inline", "-f", file}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "address group") || !strings.Contains(out.String(), "from 10.0.0.0/8") {
		t.Errorf("--groups inline:\n%s", out.String())
	}
	err := run(ctx, []string{"import", "--url", s.url, "--firewall", other, "--format", "nftables", "--chain", "filt/forwardc", "--groups", "maybe", "-f", file}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("--groups maybe: %v", err)
	}
}
