package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fireflow/fireflow/internal/httpapi"
)

// treeJSON returns the tree document in b as JSON: YAML (by the file's
// extension, or any text not starting with "{") is converted first, so
// that both go through the same decoding and checks.
func treeJSON(name string, b []byte) ([]byte, error) {
	ext := strings.ToLower(filepath.Ext(name))
	isJSON := ext == ".json" || (ext != ".yaml" && ext != ".yml" && strings.HasPrefix(strings.TrimSpace(string(b)), "{"))
	if !isJSON {
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("read %s as YAML: %w", name, err)
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("read %s as YAML: %w", name, err)
		}
		b = j
	}
	if _, err := httpapi.DecodeTreeDocument(bytes.NewReader(b)); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// applyCmd makes a firewall's tree equal a tree file, as in git workflows.
func applyCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := addServerFlags(fs, getenv, "editor", "http://localhost:8080", 120*time.Second)
	file := fs.String("f", "", "the tree document, JSON or YAML (- for stdin)")
	dryRun := fs.Bool("dry-run", false, "show what would change and save nothing")
	asJSON := fs.Bool("json", false, "print the server's answer as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *c.firewallID == "" || fs.NArg() > 0 {
		return errors.New("usage: fireflow apply -f tree.json|tree.yaml --url URL --firewall ID [--dry-run] [--json]")
	}
	raw, err := readInput(*file)
	if err != nil {
		return err
	}
	body, err := treeJSON(*file, raw)
	if err != nil {
		return err
	}
	var query url.Values
	if *dryRun {
		query = url.Values{"dry_run": {"true"}}
	}
	answer, err := c.call(ctx, http.MethodPut, "tree", query, "application/json", body)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	if *asJSON {
		_, err := stdout.Write(append(answer, '\n'))
		return err
	}
	var out httpapi.TreeChangeOutput
	if err := json.Unmarshal(answer, &out); err != nil {
		return fmt.Errorf("apply: unexpected answer: %.200s", answer)
	}
	printTreeChange(stdout, out)
	return nil
}

func printTreeChange(w io.Writer, out httpapi.TreeChangeOutput) {
	switch {
	case !out.Changed:
		fmt.Fprintf(w, "no change: the firewall already has this tree (revision %d)\n", out.Revision)
		return
	case out.DryRun:
		fmt.Fprintf(w, "dry run against revision %d; nothing was saved\n", out.Revision)
	default:
		fmt.Fprintf(w, "applied: revision %d\n", out.Revision)
	}
	if len(out.Structural.Firewall) > 0 {
		fmt.Fprintf(w, "  firewall changed: %d fields\n", len(out.Structural.Firewall))
	}
	for _, p := range out.Structural.Policies {
		fmt.Fprintf(w, "  policy %q %s\n", p.Name, p.Change)
	}
	for _, r := range out.Structural.Rules {
		name := r.ID
		if r.Name != "" {
			name = fmt.Sprintf("%q", r.Name)
		}
		fmt.Fprintf(w, "  rule %s %s", name, r.Change)
		for _, f := range r.Fields {
			fmt.Fprintf(w, " %s: %s -> %s;", f.Field, f.Old, f.New)
		}
		fmt.Fprintln(w)
	}
	if out.Semantic != nil {
		if out.Semantic.NoOp {
			fmt.Fprintln(w, "  no flow's decision changes")
		} else {
			fmt.Fprintf(w, "  %d regions of flows change decision, for example:\n", out.Semantic.Total)
			for _, r := range out.Semantic.Regions[:min(5, len(out.Semantic.Regions))] {
				fmt.Fprintf(w, "    %s: %s -> %s\n", flowText(r.Example), r.Old.Action, r.New.Action)
			}
		}
	}
	for _, f := range out.FindingsAdded {
		fmt.Fprintf(w, "  new finding: %s: %s\n", f.Kind, f.Message)
	}
	for _, f := range out.FindingsRemoved {
		fmt.Fprintf(w, "  gone finding: %s: %s\n", f.Kind, f.Message)
	}
}

// getCmd reads a resource; "get tree" prints a firewall's whole tree.
func getCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tree" {
		return errors.New("usage: fireflow get tree --url URL --firewall ID [--output json|yaml]")
	}
	fs := flag.NewFlagSet("get tree", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := addServerFlags(fs, getenv, "viewer", "http://localhost:8080", 120*time.Second)
	output := fs.String("output", "json", "json or yaml")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *c.firewallID == "" || fs.NArg() > 0 || (*output != "json" && *output != "yaml") {
		return errors.New("usage: fireflow get tree --url URL --firewall ID [--output json|yaml]")
	}
	answer, err := c.call(ctx, http.MethodGet, "tree", nil, "", nil)
	if err != nil {
		return fmt.Errorf("get tree: %w", err)
	}
	var doc httpapi.TreeDocument
	if err := json.Unmarshal(answer, &doc); err != nil {
		return fmt.Errorf("get tree: unexpected answer: %.200s", answer)
	}
	// The revision is informational; left in, every file would differ
	// after each change, whoever made it.
	doc.Revision = 0
	if *output == "yaml" {
		j, _ := json.Marshal(doc) // a decoded document always encodes
		var v any
		_ = json.Unmarshal(j, &v)
		enc := yaml.NewEncoder(stdout)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("get tree: %w", err)
		}
		return enc.Close()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
