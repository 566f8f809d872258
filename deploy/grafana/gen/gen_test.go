package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the repository root, seen from this package's directory.
const root = "../../.."

// TestCommittedDashboardsAreCurrent fails when a dashboard JSON file in
// either output directory differs from what the generator writes, or when
// a stale file lingers there: run make dashboards and commit.
func TestCommittedDashboardsAreCurrent(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name := range files {
		want = append(want, name)
	}
	slices.Sort(want)
	for _, dir := range outputDirs() {
		t.Run(dir, func(t *testing.T) {
			found, err := filepath.Glob(filepath.Join(root, dir, "*.json"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range found {
				names = append(names, filepath.Base(f))
			}
			if !slices.Equal(names, want) {
				t.Errorf("%s holds %v, want %v: run make dashboards", dir, names, want)
			}
			for name, body := range files {
				got, err := os.ReadFile(filepath.Join(root, dir, name))
				if err != nil {
					t.Errorf("%v: run make dashboards", err)
					continue
				}
				if !bytes.Equal(got, body) {
					t.Errorf("%s/%s is stale: run make dashboards and commit the result", dir, name)
				}
			}
		})
	}
}

// TestDashboards checks what a reader of the dashboards relies on: unique
// uids, every panel on the chosen datasource, every query narrowed to the
// selected instances.
func TestDashboards(t *testing.T) {
	files, err := render()
	if err != nil {
		t.Fatal(err)
	}
	uids := map[string]bool{}
	for name, body := range files {
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				Type       string `json:"type"`
				Title      string `json:"title"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d.UID == "" || uids[d.UID] {
			t.Errorf("%s: uid %q is empty or taken", name, d.UID)
		}
		uids[d.UID] = true
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			if p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
				t.Errorf("%s: panel %q: datasource %q, %d queries", name, p.Title, p.Datasource.UID, len(p.Targets))
			}
			for _, q := range p.Targets {
				if !strings.Contains(q.Expr, `instance=~"$instance"`) {
					t.Errorf("%s: panel %q: query %s ignores the instance variable", name, p.Title, q.Expr)
				}
			}
		}
	}
}
