// Command gen writes FireFlow's Grafana dashboards, built with
// grafana-foundation-sdk, as JSON into deploy/grafana/dashboards/ for
// Compose and deploy/helm/fireflow/dashboards/ for the Helm chart.
//
//	go run ./deploy/grafana/gen        (make dashboards; run from the repository root)
//
// A test fails when the committed JSON differs from what this writes. The
// SDK stays out of the server binary: only this command imports it.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// outputDirs are where the dashboards go, relative to the repository root.
func outputDirs() []string {
	return []string{"deploy/grafana/dashboards", "deploy/helm/fireflow/dashboards"}
}

func main() {
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	if err := write(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func write(root string) error {
	files, err := render()
	if err != nil {
		return err
	}
	for _, dir := range outputDirs() {
		dir = filepath.Join(root, dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
				return fmt.Errorf("write dashboard: %w", err)
			}
		}
	}
	return nil
}

// render returns each dashboard's file name and JSON.
func render() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, d := range dashboards() {
		built, err := d.builder.Build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard %s: %w", d.file, err)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(built); err != nil {
			return nil, fmt.Errorf("encode dashboard %s: %w", d.file, err)
		}
		files[d.file] = buf.Bytes()
	}
	return files, nil
}
