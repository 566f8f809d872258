package deploytest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fireflow/fireflow/deploy/test/k8sschema"
	"github.com/google/go-cmp/cmp"
)

// kubernetesVersion is the Kubernetes release whose OpenAPI spec, shipped
// in the k8s.io/kubernetes module (api/openapi-spec/swagger.json), the
// rendered chart is validated against. Bump it deliberately.
const kubernetesVersion = "v1.35.4"

// prometheusOperatorVersion pins the ServiceMonitor CRD the chart's
// ServiceMonitor is validated against: the module ships it in
// example/prometheus-operator-crd.
const prometheusOperatorVersion = "v0.85.0"

// valueSets are the configurations `make test-deploy` renders and checks.
var valueSets = []struct{ name, file string }{
	{"default", ""},
	{"postgres", "ci/postgres-values.yaml"},
	{"sqlite-pvc", "ci/sqlite-pvc-values.yaml"},
	{"ingress-hpa-pdb-servicemonitor", "ci/full-values.yaml"},
}

func chartDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "deploy", "helm", "fireflow")
}

// helmTemplate renders a chart as release "fireflow" and fails the test on error.
func helmTemplate(t *testing.T, chart string, args ...string) string {
	t.Helper()
	out, err := tryHelmTemplate(t, chart, args...)
	if err != nil {
		t.Fatalf("helm template %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func tryHelmTemplate(t *testing.T, chart string, args ...string) (string, error) {
	t.Helper()
	base := []string{"template", "fireflow", chart, "--namespace", "fireflow", "--kube-version", kubernetesVersion}
	cmd := exec.Command(tool(t, "helm"), append(base, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return string(out) + stderrOf(err), err
	}
	return string(out), nil
}

func renderSet(t *testing.T, file string, extra ...string) []object {
	t.Helper()
	var args []string
	if file != "" {
		args = append(args, "-f", filepath.Join(chartDir(t), file))
	}
	return decodeManifests(t, helmTemplate(t, chartDir(t), append(args, extra...)...))
}

var (
	schemasOnce sync.Once
	schemasTmp  string // removed by TestMain
	schemasDir  string
	schemasErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if schemasTmp != "" {
		_ = os.RemoveAll(schemasTmp)
	}
	os.Exit(code)
}

// k8sSchemas generates kubeconform schemas once per run: every kind of
// Kubernetes kubernetesVersion, and the ServiceMonitor CRD of
// prometheus-operator prometheusOperatorVersion.
func k8sSchemas(t *testing.T) string {
	t.Helper()
	schemasOnce.Do(func() { schemasDir, schemasErr = generateSchemas() })
	if schemasErr != nil {
		t.Fatalf("generate schemas: %v", schemasErr)
	}
	return schemasDir
}

func generateSchemas() (string, error) {
	tmp, err := os.MkdirTemp("", "fireflow-k8s-schemas-")
	if err != nil {
		return "", err
	}
	schemasTmp = tmp
	dir := filepath.Join(tmp, "schemas")
	k8s, err := downloadModule(tmp, "k8s.io/kubernetes@"+kubernetesVersion)
	if err != nil {
		return "", err
	}
	f, err := os.Open(filepath.Join(k8s, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := k8sschema.Generate(f, dir); err != nil {
		return "", fmt.Errorf("kubernetes %s: %w", kubernetesVersion, err)
	}
	op, err := downloadModule(tmp, "github.com/prometheus-operator/prometheus-operator@"+prometheusOperatorVersion)
	if err != nil {
		return "", err
	}
	crd, err := os.ReadFile(filepath.Join(op, "example", "prometheus-operator-crd", "monitoring.coreos.com_servicemonitors.yaml"))
	if err != nil {
		return "", err
	}
	if _, err := k8sschema.GenerateCRD(crd, dir); err != nil {
		return "", fmt.Errorf("ServiceMonitor CRD: %w", err)
	}
	return dir, nil
}

// downloadModule fetches a module through the Go module proxy (its
// checksum verified against the checksum database, as for any module) and
// returns its directory in the module cache. It runs where there is no
// go.mod, so that nothing joins a build list.
func downloadModule(dir, modVersion string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w\n%s%s", modVersion, err, out, stderrOf(err))
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no module directory in %s", modVersion, out)
	}
	return mod.Dir, nil
}

type kubeconformResult struct {
	Resources []struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Msg    string `json:"msg"`
	} `json:"resources"`
}

// kubeconform validates a manifest stream in strict mode, offline, against
// the generated schemas; a kind without a schema is an error.
func kubeconform(t *testing.T, manifests string) (kubeconformResult, string, error) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "manifests.yaml")
	if err := os.WriteFile(file, []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := tryCmd("", nil, tool(t, "kubeconform"), "-strict", "-summary", "-verbose", "-output", "json",
		"-schema-location", filepath.Join(k8sSchemas(t), "{{ .ResourceKind }}{{ .KindSuffix }}.json"), file)
	var res kubeconformResult
	if jerr := json.Unmarshal([]byte(out), &res); jerr != nil {
		t.Fatalf("kubeconform output is not JSON: %v\n%s", jerr, out)
	}
	return res, out, err
}

func TestChartLint(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			args := []string{"lint", "--strict", "--kube-version", kubernetesVersion, chartDir(t)}
			if vs.file != "" {
				args = append(args, "-f", filepath.Join(chartDir(t), vs.file))
			}
			out := runCmd(t, "", nil, tool(t, "helm"), args...)
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Fatalf("helm lint:\n%s", out)
			}
		})
	}
}

func TestChartValidatesAgainstKubernetesSchemas(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			var args []string
			if vs.file != "" {
				args = []string{"-f", filepath.Join(chartDir(t), vs.file)}
			}
			rendered := helmTemplate(t, chartDir(t), args...)
			objs := decodeManifests(t, rendered)
			res, out, err := kubeconform(t, rendered)
			if err != nil {
				t.Fatalf("kubeconform: %v\n%s", err, out)
			}
			if len(res.Resources) != len(objs) {
				t.Fatalf("kubeconform saw %d resources, the chart rendered %d: %v", len(res.Resources), len(objs), kinds(objs))
			}
			for _, r := range res.Resources {
				if want := "statusValid"; r.Status != want {
					t.Errorf("%s %s: %s %s", r.Kind, r.Name, r.Status, r.Msg)
				}
			}
		})
	}
}

// The generated schemas must be strict and typed, or the validation above
// would prove nothing.
func TestKubeconformRejectsInvalidManifests(t *testing.T) {
	rendered := helmTemplate(t, chartDir(t), "-f", filepath.Join(chartDir(t), "ci/full-values.yaml"))
	tests := []struct{ name, from, to, want string }{
		{"unknown field", "          startupProbe:", "          startupProbes:", "additional properties 'startupProbes' not allowed"},
		{"wrong type", "      terminationGracePeriodSeconds: 40", "      terminationGracePeriodSeconds: forty", "got string, want integer"},
		{"unknown kind", "kind: Service\n", "kind: Servic\n", "could not find schema for Servic"},
		{"custom resource field", "      scrapeTimeout: 10s", "      scrapeTimeouts: 10s", "additional properties 'scrapeTimeouts' not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(rendered, tt.from) {
				t.Fatalf("the rendered chart has no %q to break", tt.from)
			}
			res, out, err := kubeconform(t, strings.Replace(rendered, tt.from, tt.to, 1))
			if err == nil {
				t.Fatalf("kubeconform accepted the broken manifests:\n%s", out)
			}
			var msgs []string
			for _, r := range res.Resources {
				msgs = append(msgs, r.Msg)
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tt.want) {
				t.Fatalf("want a message with %q, got:\n%s", tt.want, strings.Join(msgs, "\n"))
			}
		})
	}
}

// containers lists a pod template's init containers and containers.
func containers(podSpec any) []any {
	var all []any
	if l, ok := dig(podSpec, "initContainers").([]any); ok {
		all = append(all, l...)
	}
	if l, ok := dig(podSpec, "containers").([]any); ok {
		all = append(all, l...)
	}
	return all
}

func TestChartSecurityAndProbes(t *testing.T) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			objs := renderSet(t, vs.file)
			pods := map[string]any{"Deployment": dig(find(t, objs, "Deployment", "fireflow"), "spec", "template", "spec")}
			for _, o := range objs {
				if o.kind() == "Job" {
					pods["Job"] = dig(o, "spec", "template", "spec")
				}
			}
			for kind, pod := range pods {
				psc := dig(pod, "securityContext")
				for key, want := range map[string]any{"runAsNonRoot": true, "runAsUser": float64(10001), "runAsGroup": float64(10001)} {
					if got := dig(psc, key); got != want {
						t.Errorf("%s pod securityContext.%s = %v, want %v", kind, key, got, want)
					}
				}
				if got := dig(psc, "seccompProfile", "type"); got != "RuntimeDefault" {
					t.Errorf("%s seccompProfile = %v, want RuntimeDefault", kind, got)
				}
				for _, c := range containers(pod) {
					sc := dig(c, "securityContext")
					if dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false {
						t.Errorf("%s container %v: securityContext %s", kind, dig(c, "name"), toJSON(sc))
					}
					if diff := cmp.Diff([]any{"ALL"}, dig(sc, "capabilities", "drop")); diff != "" {
						t.Errorf("%s container %v drops (-want +got):\n%s", kind, dig(c, "name"), diff)
					}
					if dig(c, "resources", "limits", "memory") == nil || dig(c, "resources", "requests", "cpu") == nil {
						t.Errorf("%s container %v has no resources", kind, dig(c, "name"))
					}
				}
			}

			app := dig(pods["Deployment"], "containers", 0)
			for probe, path := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"} {
				if got := dig(app, probe, "httpGet", "path"); got != path {
					t.Errorf("%s path = %v, want %s", probe, got, path)
				}
				if got := dig(app, probe, "httpGet", "port"); got != "http" {
					t.Errorf("%s port = %v, want http", probe, got)
				}
			}
			if got := toJSON(dig(app, "ports")); !strings.Contains(got, `"containerPort":8080,"name":"http"`) || !strings.Contains(got, `"containerPort":9464,"name":"metrics"`) {
				t.Errorf("container ports = %s", got)
			}

			svc := find(t, objs, "Service", "fireflow")
			if got := toJSON(dig(svc, "spec", "ports")); got != `[{"name":"http","port":80,"protocol":"TCP","targetPort":"http"},{"name":"metrics","port":9464,"protocol":"TCP","targetPort":"metrics"}]` {
				t.Errorf("service ports = %s", got)
			}
			if diff := cmp.Diff(dig(find(t, objs, "Deployment", "fireflow"), "spec", "selector", "matchLabels"), dig(svc, "spec", "selector")); diff != "" {
				t.Errorf("the Service selects other pods than the Deployment's (-deployment +service):\n%s", diff)
			}
			if got := dig(find(t, objs, "ConfigMap", "fireflow"), "data", "FIREFLOW_ENV"); got != "production" {
				t.Errorf("FIREFLOW_ENV = %v, want production", got)
			}
		})
	}
}

func TestChartSQLiteRunsOneReplica(t *testing.T) {
	for _, vs := range []struct{ name, file string }{{"default", ""}, {"sqlite-pvc", "ci/sqlite-pvc-values.yaml"}} {
		t.Run(vs.name, func(t *testing.T) {
			objs := renderSet(t, vs.file, "--set", "replicaCount=5")
			d := find(t, objs, "Deployment", "fireflow")
			if got := dig(d, "spec", "replicas"); got != float64(1) {
				t.Errorf("replicas = %v, want 1 in SQLite mode", got)
			}
			if got := dig(d, "spec", "strategy", "type"); got != "Recreate" {
				t.Errorf("strategy = %v, want Recreate", got)
			}
			pod := dig(d, "spec", "template", "spec")
			if got := toJSON(dig(pod, "initContainers", 0, "args")); got != `["migrate","up"]` {
				t.Errorf("init container args = %s, want the migration", got)
			}
			if got := dig(find(t, objs, "ConfigMap", "fireflow"), "data", "FIREFLOW_DATABASE_URL"); got != "sqlite:/data/fireflow.db" {
				t.Errorf("FIREFLOW_DATABASE_URL = %v", got)
			}
			for _, o := range objs {
				if o.kind() == "Job" || o.kind() == "HorizontalPodAutoscaler" {
					t.Errorf("SQLite mode rendered a %s", o.kind())
				}
			}
			volume := toJSON(dig(pod, "volumes"))
			if vs.file == "" {
				if !strings.Contains(volume, `{"emptyDir":{},"name":"data"}`) {
					t.Errorf("without persistence the data volume should be an emptyDir: %s", volume)
				}
				return
			}
			pvc := find(t, objs, "PersistentVolumeClaim", "-data")
			if !strings.Contains(volume, `"claimName":"`+pvc.name()+`"`) {
				t.Errorf("the data volume %s does not use the claim %s", volume, pvc.name())
			}
			if got := dig(pvc, "spec", "resources", "requests", "storage"); got != "2Gi" {
				t.Errorf("claim size = %v", got)
			}
			if got := dig(pvc, "metadata", "annotations", "helm.sh/resource-policy"); got != "keep" {
				t.Errorf("the claim is not kept on uninstall: %v", got)
			}
		})
	}
}

func TestChartPostgresMigratesInHook(t *testing.T) {
	objs := renderSet(t, "ci/postgres-values.yaml")
	d := find(t, objs, "Deployment", "fireflow")
	if got := dig(d, "spec", "replicas"); got != float64(3) {
		t.Errorf("replicas = %v, want 3", got)
	}
	if dig(d, "spec", "template", "spec", "initContainers") != nil {
		t.Error("postgres mode should migrate in the hook Job, not in an init container")
	}
	job := find(t, objs, "Job", "-migrate")
	hookSecret := find(t, objs, "Secret", "-migrate")
	for _, o := range []object{job, hookSecret} {
		ann := dig(o, "metadata", "annotations")
		if got := dig(ann, "helm.sh/hook"); got != "pre-install,pre-upgrade" {
			t.Errorf("%s hook = %v", o.kind(), got)
		}
		if got := dig(ann, "helm.sh/hook-delete-policy"); got != "before-hook-creation,hook-succeeded" {
			t.Errorf("%s hook-delete-policy = %v", o.kind(), got)
		}
	}
	if s, j := dig(hookSecret, "metadata", "annotations", "helm.sh/hook-weight"), dig(job, "metadata", "annotations", "helm.sh/hook-weight"); s != "-10" || j != "0" {
		t.Errorf("hook weights: secret %v, job %v; the secret must come first", s, j)
	}
	pod := dig(job, "spec", "template", "spec")
	if got := toJSON(dig(pod, "containers", 0, "args")); got != `["migrate","up"]` {
		t.Errorf("job args = %s", got)
	}
	if got := dig(pod, "restartPolicy"); got != "Never" {
		t.Errorf("restartPolicy = %v", got)
	}
	env := toJSON(dig(pod, "containers", 0, "env"))
	for _, want := range []string{`"name":"FIREFLOW_ENV","value":"production"`, `"key":"FIREFLOW_DATABASE_URL","name":"fireflow-migrate"`} {
		if !strings.Contains(env, want) {
			t.Errorf("job env %s lacks %s", env, want)
		}
	}
	// The Job's pod must not be mistaken for a server pod by the Service.
	selector := dig(d, "spec", "selector", "matchLabels").(map[string]any)
	jobLabels := dig(job, "spec", "template", "metadata", "labels").(map[string]any)
	matches := true
	for k, v := range selector {
		matches = matches && jobLabels[k] == v
	}
	if matches {
		t.Errorf("the server selector %v matches the migration pod's labels %v", selector, jobLabels)
	}
}

func TestChartRendersOptionalResources(t *testing.T) {
	objs := renderSet(t, "ci/full-values.yaml")
	d := find(t, objs, "Deployment", "fireflow")
	if got := dig(d, "spec", "replicas"); got != nil {
		t.Errorf("with an HPA the Deployment must not set replicas, got %v", got)
	}
	ing := find(t, objs, "Ingress", "fireflow")
	if got := toJSON(dig(ing, "spec", "tls")); got != `[{"hosts":["fireflow.example.com"],"secretName":"fireflow-tls"}]` {
		t.Errorf("ingress tls = %s", got)
	}
	if got := toJSON(dig(ing, "spec", "rules", 0, "http", "paths", 0, "backend")); got != `{"service":{"name":"fireflow","port":{"name":"http"}}}` {
		t.Errorf("ingress backend = %s", got)
	}
	hpa := find(t, objs, "HorizontalPodAutoscaler", "fireflow")
	if got := toJSON(dig(hpa, "spec", "scaleTargetRef")); got != `{"apiVersion":"apps/v1","kind":"Deployment","name":"fireflow"}` {
		t.Errorf("hpa target = %s", got)
	}
	pdb := find(t, objs, "PodDisruptionBudget", "fireflow")
	if diff := cmp.Diff(dig(d, "spec", "selector"), dig(pdb, "spec", "selector")); diff != "" {
		t.Errorf("PDB selector differs from the Deployment's:\n%s", diff)
	}
	sm := find(t, objs, "ServiceMonitor", "fireflow")
	if got := toJSON(dig(sm, "spec", "endpoints")); got != `[{"interval":"30s","path":"/metrics","port":"metrics","scrapeTimeout":"10s"}]` {
		t.Errorf("servicemonitor endpoints = %s", got)
	}
	if got := dig(sm, "metadata", "labels", "release"); got != "prometheus" {
		t.Errorf("servicemonitor release label = %v", got)
	}
	np := find(t, objs, "NetworkPolicy", "fireflow")
	if got := toJSON(dig(np, "spec", "ingress")); !strings.Contains(got, `"port":"http"`) || !strings.Contains(got, `"port":"metrics"`) || !strings.Contains(got, "monitoring") {
		t.Errorf("networkpolicy ingress = %s", got)
	}
	// existingSecret: the chart makes no Secret and everything reads the user's.
	for _, o := range objs {
		if o.kind() == "Secret" {
			t.Errorf("existingSecret is set, yet the chart renders Secret %s", o.name())
		}
	}
	for _, o := range []object{d, find(t, objs, "Job", "-migrate")} {
		env := toJSON(dig(o, "spec", "template", "spec", "containers", 0, "env"))
		if strings.Count(env, `"name":"fireflow-credentials"`) != 2 {
			t.Errorf("%s env does not read both keys from the existing secret: %s", o.kind(), env)
		}
	}
}

func TestChartRefusesBadValues(t *testing.T) {
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"hpa with sqlite", []string{"autoscaling.enabled=true"}, "autoscaling.enabled needs database.driver=postgres"},
		{"postgres without url", []string{"database.driver=postgres"}, "needs database.postgres.url or an existingSecret"},
		{"unknown driver", []string{"database.driver=mysql"}, "/database/driver': value must be one of"},
		{"short jwt secret", []string{"jwt.secret=short"}, "minLength: got 5, want 32"},
		{"unknown value", []string{"replicas=2"}, "additional properties 'replicas' not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			for _, s := range tt.set {
				args = append(args, "--set", s)
			}
			out, err := tryHelmTemplate(t, chartDir(t), args...)
			if err == nil || !strings.Contains(out, tt.want) {
				t.Fatalf("got %v, want a failure mentioning %q:\n%s", err, tt.want, out)
			}
		})
	}
}

func TestChartDashboardsConfigMap(t *testing.T) {
	dashboardsOf := func(objs []object) []object {
		var found []object
		for _, o := range objs {
			if o.kind() == "ConfigMap" && dig(o, "metadata", "labels", "grafana_dashboard") == "1" {
				found = append(found, o)
			}
		}
		return found
	}
	chart := filepath.Join(t.TempDir(), "fireflow")
	copyChart(t, chartDir(t), chart)

	if got := dashboardsOf(decodeManifests(t, helmTemplate(t, chart))); len(got) != 0 {
		t.Fatalf("with no dashboard files the chart rendered %d dashboard ConfigMaps", len(got))
	}

	dir := filepath.Join(chart, "dashboards")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"fireflow-api.json", "fireflow-engine.json"} {
		// Legends use Prometheus' {{label}} syntax: it must pass through untemplated.
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"title": "`+name+`", "panels": [{"legendFormat": "{{route}}"}]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := dashboardsOf(decodeManifests(t, helmTemplate(t, chart)))
	if len(got) != 1 {
		t.Fatalf("want one dashboards ConfigMap, got %d", len(got))
	}
	data, _ := dig(got[0], "data").(map[string]any)
	var keys []string
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if diff := cmp.Diff([]string{"fireflow-api.json", "fireflow-engine.json"}, keys); diff != "" {
		t.Errorf("dashboard keys (-want +got):\n%s", diff)
	}
	if got := data["fireflow-api.json"]; got != `{"title": "fireflow-api.json", "panels": [{"legendFormat": "{{route}}"}]}` {
		t.Errorf("dashboard content = %v", got)
	}
	if got := dashboardsOf(decodeManifests(t, helmTemplate(t, chart, "--set", "dashboards.enabled=false"))); len(got) != 0 {
		t.Errorf("dashboards.enabled=false still rendered %d ConfigMaps", len(got))
	}
}

// copyChart copies a chart without its dashboards, whatever the generator
// has written there.
func copyChart(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if rel == "dashboards" {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
