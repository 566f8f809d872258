package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCommand runs the CLI against a real server: a dry run prints
// what would be created and writes nothing; --apply creates it.
func TestImportCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	res, err := s.post(s.url+"/api/v1/firewalls", strings.NewReader(`{"name":"edge"}`))
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create firewall: %v %v", res, err)
	}
	var fw struct{ ID string }
	err = json.NewDecoder(res.Body).Decode(&fw)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FIREFLOW_TOKEN": s.token}
	getenv := func(k string) string { return env[k] }
	file := "../../internal/export/testdata/import/mixed.iptables"
	cases := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "dry run", args: []string{"--format", "iptables", "-f", file},
			want: []string{"from chain FORWARD: would create 2 policies and 6 rules", "firewall default: deny",
				`policy "ff-p1" priority 10 default next`, "1 allow tcp from 10.0.0.0/8 to 192.168.1.5/32 dport 22,80,1000-2000",
				"NOT IMPORTED line 16: interface match -i eth0", "dry run: nothing was written"}},
		{name: "lossy apply", args: []string{"--format", "iptables", "--apply", "-f", file}, wantErr: "partial=true"},
		{name: "apply", args: []string{"--format", "iptables", "--chain", "FORWARD", "--apply", "--partial", "-f", file},
			want: []string{"created 2 policies and 6 rules (revision"}},
		{name: "not empty any more", args: []string{"--format", "iptables", "-f", file}, wantErr: "409"},
		{name: "bad format", args: []string{"--format", "pf", "-f", file}, wantErr: "use iptables, ip6tables or nftables"},
		{name: "no file", args: []string{"--format", "iptables", "-f", "/nonexistent"}, wantErr: "read ruleset"},
		{name: "usage", args: []string{"--format", "iptables"}, wantErr: "usage: fireflow import"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			args := append([]string{"import", "--url", s.url, "--firewall", fw.ID}, c.args...)
			err := run(ctx, args, getenv, &out, io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
