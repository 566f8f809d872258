package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fireflow/fireflow/"

// allowed is DESIGN §4 as a table: each package of the module and the
// packages of the module it may import (module-relative paths). Imports
// flow downward only: nothing imports cmd or httpapi, httpapi reaches the
// model only through the service, and the domain imports nothing. A
// package missing from the table fails the test, so that a new package
// gets its rule when it is made.
var allowed = map[string][]string{
	"cmd/fireflow": {"internal/apiclient", "internal/httpapi", "internal/service", "internal/auth", "internal/obs", "internal/config",
		"internal/store", "internal/store/sqlite", "internal/store/postgres", "internal/store/instrumented",
		// The offline commands (evaluate, analyze, export on a tree file)
		// run the same code as the server, without a store.
		"internal/firewall", "internal/analysis", "internal/export"},

	"internal/httpapi": {"internal/service", "internal/auth", "internal/firewall", "internal/webui"},

	// The generated client knows only HTTP; its tests drive a real server.
	"internal/apiclient": {},

	// The console's embedded assets; stdlib only.
	"internal/webui": {},

	// filter only for DescribeList: the service documents the fields its
	// lists accept from the declarations the SQL translation uses.
	"internal/service": {"internal/firewall", "internal/engine", "internal/analysis", "internal/export", "internal/store", "internal/filter"},

	"internal/store":              {"internal/firewall"},
	"internal/store/sqlstore":     {"internal/firewall", "internal/filter", "internal/store"},
	"internal/store/sqlite":       {"internal/firewall", "internal/filter", "internal/store", "internal/store/sqlstore"},
	"internal/store/postgres":     {"internal/firewall", "internal/filter", "internal/store", "internal/store/sqlstore"},
	"internal/store/instrumented": {"internal/firewall", "internal/store"},
	"internal/store/storetest":    {"internal/firewall", "internal/store", "internal/firewall/fwgen"},
	"internal/filter":             {"internal/firewall"},

	"internal/engine":            {"internal/firewall"},
	"internal/analysis":          {"internal/firewall", "internal/engine"},
	"internal/export":            {"internal/firewall"},
	"internal/export/kerneltest": {"internal/firewall", "internal/export"},
	"internal/firewall":          {},
	"internal/firewall/fwgen":    {"internal/firewall"},
	"internal/auth":              {},
	"internal/config":            {},
	"internal/obs":               {},
	"internal/pgtest":            {},
	"internal/archtest":          {},
	"deploy/grafana/gen":         {},
	"scripts/bench/bare":         {},
	"scripts/bench/reorder":      {"internal/apiclient"},
	"scripts/bench/seed":         {"internal/apiclient"},
	"scripts/bench/stores":       {},
	"scripts/bench/summary":      {},
	"scripts/bench/pgcluster":    {"internal/pgtest"},
	"scripts/bench/plainapi":     {"internal/httpapi", "internal/service", "internal/auth", "internal/config", "internal/store/sqlite"},
}

// testSupport may also be imported by any package's tests: tests run on
// real parts (SQLite files, PostgreSQL clusters, generated trees, the
// kernel), so they wire stores the way cmd does. Production code may not.
var testSupport = []string{
	"internal/store", "internal/store/sqlite", "internal/store/postgres", "internal/store/sqlstore",
	"internal/store/storetest", "internal/pgtest", "internal/firewall/fwgen", "internal/export/kerneltest",
}

// testAlso adds, per package, what its tests may import beyond
// testSupport: the export tests check rendered rulesets, decided by the
// kernel, against the engine's decisions.
var testAlso = map[string][]string{
	"internal/export":            {"internal/engine"},
	"internal/export/kerneltest": {"internal/engine"},
	"internal/apiclient":         {"internal/httpapi", "internal/service", "internal/auth"},
	"internal/httpapi":           {"internal/export"}, // the import kernel test renders what it loads
}

type goPackage struct {
	ImportPath   string
	Standard     bool
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// TestImportBoundaries checks every package of the module against the
// table, over the imports go list reports.
func TestImportBoundaries(t *testing.T) {
	pkgs := listPackages(t)
	checked := 0
	for _, p := range pkgs {
		name, ok := strings.CutPrefix(p.ImportPath, module)
		if p.Standard || !ok {
			continue
		}
		checked++
		rule, known := allowed[name]
		if !known {
			t.Errorf("%s is not in the import-boundary table (internal/archtest): add it with the packages it may import, per DESIGN §4", name)
			continue
		}
		for _, imp := range internalImports(p.Imports) {
			check(t, name, imp, rule, "")
		}
		for _, imp := range internalImports(append(p.TestImports, p.XTestImports...)) {
			if imp != name && !slices.Contains(testSupport, imp) {
				check(t, name, imp, append(slices.Clone(rule), testAlso[name]...), " (in a test)")
			}
		}
	}
	if checked < 20 {
		t.Fatalf("go list reported only %d packages of the module; is the test run from inside it?", checked)
	}
}

func check(t *testing.T, pkg, imp string, rule []string, where string) {
	t.Helper()
	if slices.Contains(rule, imp) {
		return
	}
	may := strings.Join(rule, ", ")
	if may == "" {
		may = "no package of the module"
	}
	t.Errorf("%s imports %s%s, which DESIGN §4 forbids: it may import %s", pkg, imp, where, may)
}

func internalImports(imports []string) []string {
	var out []string
	for _, imp := range imports {
		if name, ok := strings.CutPrefix(imp, module); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// listPackages runs go list over the whole module, from this package's
// directory, with the test imports of each package.
func listPackages(t *testing.T) []goPackage {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the import-boundary test needs the go command: %v", err)
	}
	root, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("find the module root: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-deps", "-json=ImportPath,Standard,Imports,TestImports,XTestImports,Error", "./...")
	cmd.Dir = strings.TrimSpace(string(root))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}
