package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

// needTool returns the path of a Prometheus binary. Without it the test is
// skipped, loudly, except in CI, where a missing tool fails the run:
// .ci/run installs the Debian package prometheus.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed; CI needs it (apt-get install prometheus)", name)
	}
	t.Skipf("SKIPPED: %s is not installed, so nothing was checked against a real Prometheus; apt-get install prometheus", name)
	return ""
}

// TestPromtoolRules checks the alert rules and the Compose scrape
// configuration with promtool, and runs the rules' unit tests.
func TestPromtoolRules(t *testing.T) {
	promtool := needTool(t, "promtool")
	rules, _ := filepath.Glob(filepath.Join(repoRoot, "deploy/prometheus/rules/*.yml"))
	tests, _ := filepath.Glob(filepath.Join(repoRoot, "deploy/prometheus/tests/*.yml"))
	if len(rules) == 0 || len(tests) == 0 {
		t.Fatalf("rules %v, tests %v: want both", rules, tests)
	}
	for _, args := range [][]string{
		append([]string{"check", "rules"}, rules...),
		append([]string{"test", "rules"}, tests...),
		{"check", "config", "--syntax-only", filepath.Join(repoRoot, "deploy/prometheus/prometheus.yml")},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			out, err := exec.Command(promtool, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// TestPrometheusQueries runs FireFlow and a real Prometheus scraping its
// metrics listener on loopback, drives a short bounded load, and then runs
// every PromQL expression of the dashboards and the alert rules: each must
// return data, so that no panel is empty and no alert watches nothing.
func TestPrometheusQueries(t *testing.T) {
	promBin := needTool(t, "prometheus")
	promtool := needTool(t, "promtool")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	s := startServer(t, ctx, filepath.Join(dir, "fireflow.db"))
	metrics, err := url.Parse(s.metricsURL)
	if err != nil {
		t.Fatal(err)
	}

	rules, err := filepath.Abs(filepath.Join(repoRoot, "deploy/prometheus/rules/fireflow.yml"))
	if err != nil {
		t.Fatal(err)
	}
	promURL := startPrometheus(t, promBin, dir, fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: fireflow
    static_configs:
      - targets: [%q]
`, rules, metrics.Host))

	driveLoad(t, s, dir)

	t.Run("promtool check metrics", func(t *testing.T) {
		_, text := fetch(t, s.metricsURL, "")
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	})

	exprs := dashboardExprs(t)
	if len(exprs) < 20 {
		t.Fatalf("only %d dashboard queries found", len(exprs))
	}
	for _, e := range exprs {
		// Grafana's variables, as Grafana would fill them in.
		q := strings.ReplaceAll(strings.ReplaceAll(e, "$__rate_interval", "30s"), `"$instance"`, `".*"`)
		t.Run("dashboard/"+e, func(t *testing.T) { pollQuery(t, promURL, q) })
	}
	for _, r := range loadedRules(t, promURL) {
		t.Run("rule/"+r.Name, func(t *testing.T) {
			pollQuery(t, promURL, r.quantity())
			if r.Health == "err" {
				t.Errorf("rule %s: %s", r.Name, r.LastError)
			}
		})
	}
	cancel()
	s.wait(t)
}

// startPrometheus runs prometheus with config on a free loopback port until
// the test ends, and returns its URL once it is ready.
func startPrometheus(t *testing.T, bin, dir, config string) string {
	t.Helper()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		default:
		}
		if res, err := http.Get(base + "/-/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready on %s within 60s\n%s", base, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// driveLoad sends a few hundred requests of every kind the dashboards
// show: reads, writes (audit events), evaluations, 404s, 401s and 403s. It
// is bounded in count and spread over a few seconds, so that rates have
// samples to work on.
func driveLoad(t *testing.T, s *server, dir string) {
	t.Helper()
	secret, err := os.ReadFile(filepath.Join(dir, "dev-secret"))
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := auth.Mint(bytes.TrimSpace(secret), "viewer", []string{string(auth.Viewer)}, time.Hour, "", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	create := func(path, body string) string {
		t.Helper()
		res, err := s.post(s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m struct{ ID string }
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d %v", path, res.StatusCode, err)
		}
		return m.ID
	}
	for round := range 5 {
		fw := create("/api/v1/firewalls", fmt.Sprintf(`{"name":"load-%d"}`, round))
		pol := create("/api/v1/firewalls/"+fw+"/filtering-policies", `{"name":"web","priority":10}`)
		create("/api/v1/firewalls/"+fw+"/filtering-policies/"+pol+"/rules", `{"action":"allow","protocol":"tcp","destination_ports":["443"]}`)
		for range 40 {
			fetch(t, s.url+"/api/v1/firewalls/"+fw, s.token)
			fetch(t, s.url+"/api/v1/firewalls/"+fw+"/filtering-policies/"+pol+"/rules", viewer)
		}
		res, err := s.post(s.url+"/api/v1/firewalls/"+fw+"/evaluate",
			strings.NewReader(`{"flows":[{"protocol":"tcp","source_ip":"192.0.2.1","destination_ip":"198.51.100.1","source_port":5000,"destination_port":443}]}`))
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("evaluate: %v %v", res, err)
		}
		res.Body.Close()
		fetch(t, s.url+"/api/v1/firewalls/0190a0b0-0000-7000-8000-00000000dead", s.token) // 404
		fetch(t, s.url+"/api/v1/firewalls", "expired.or.wrong")                           // 401
		fetch(t, s.url+"/api/v1/audit-events", viewer)                                    // 403
		time.Sleep(time.Second)
	}
}

// dashboardExprs returns every PromQL expression of the generated dashboards.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "deploy/grafana/dashboards/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if e, ok := v["expr"].(string); ok {
				exprs = append(exprs, e)
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d any
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walk(d)
	}
	slices.Sort(exprs)
	return slices.Compact(exprs)
}

// promRule is a rule as Prometheus's /api/v1/rules shows it.
type promRule struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Type      string `json:"type"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// threshold matches the comparison that ends every alert expression.
var threshold = regexp.MustCompile(`\s*(>|<|==|!=|>=|<=)\s*[0-9.e+-]+\s*$`)

// quantity is what an alert watches: its expression without the final
// comparison, which has data whether or not the alert fires.
func (r promRule) quantity() string {
	if r.Type != "alerting" {
		return r.Query
	}
	return threshold.ReplaceAllString(r.Query, "")
}

// loadedRules returns the rules Prometheus loaded, once each has been
// evaluated.
func loadedRules(t *testing.T, promURL string) []promRule {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var body struct {
			Data struct {
				Groups []struct {
					Rules []promRule `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		res, err := http.Get(promURL + "/api/v1/rules")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var rules []promRule
		evaluated := true
		for _, g := range body.Data.Groups {
			for _, r := range g.Rules {
				rules = append(rules, r)
				evaluated = evaluated && r.Health != "unknown"
			}
		}
		if len(rules) > 0 && evaluated {
			var alerts []string
			for _, r := range rules {
				if r.Type == "alerting" {
					alerts = append(alerts, r.Name)
				}
			}
			slices.Sort(alerts)
			if want := "FireFlowHigh5xxRatio,FireFlowHighLatencyP99,FireFlowNotReady,FireFlowTargetDown"; strings.Join(alerts, ",") != want {
				t.Fatalf("alerts loaded %v, want %s", alerts, want)
			}
			return rules
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not evaluated within 30s: %+v", rules)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// pollQuery runs query until it returns at least one sample, and fails if
// it has none within 30 seconds (Prometheus scrapes every second).
func pollQuery(t *testing.T, promURL, query string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(query))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if body.Status != "success" {
			t.Fatalf("query %s: %s", query, body.Error)
		}
		if len(body.Data.Result) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s returned no data within 30s", query)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
