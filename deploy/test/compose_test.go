package deploytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"
)

// loadCompose loads deploy/compose/docker-compose.yml with the Compose
// Specification's loader (the one docker compose uses), which validates it
// against the schema and resolves interpolation and paths.
func loadCompose(t *testing.T, env []string) (*types.Project, error) {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "deploy", "compose")
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")},
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(env), // not the .env a developer's make up wrote
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestComposeStack(t *testing.T) {
	p, err := loadCompose(t, []string{"POSTGRES_PASSWORD=pg-secret", "FIREFLOW_JWT_SECRET=jwt-secret-of-at-least-32-bytes-long", "GRAFANA_ADMIN_PASSWORD=gf"})
	if err != nil {
		t.Fatalf("load the stack: %v", err)
	}
	root := repoRoot(t)
	names := p.ServiceNames()
	slices.Sort(names)
	if diff := cmp.Diff([]string{"fireflow", "grafana", "jaeger", "migrate", "postgres", "prometheus"}, names); diff != "" {
		t.Fatalf("services (-want +got):\n%s", diff)
	}
	svc := func(name string) types.ServiceConfig {
		s, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("depends_on conditions", func(t *testing.T) {
		want := map[string]map[string]string{
			"migrate":    {"postgres": types.ServiceConditionHealthy},
			"fireflow":   {"migrate": types.ServiceConditionCompletedSuccessfully, "postgres": types.ServiceConditionHealthy, "jaeger": types.ServiceConditionStarted},
			"prometheus": {"fireflow": types.ServiceConditionStarted},
			"grafana":    {"prometheus": types.ServiceConditionHealthy},
		}
		for name, deps := range want {
			got := map[string]string{}
			for dep, d := range svc(name).DependsOn {
				got[dep] = d.Condition
			}
			if diff := cmp.Diff(deps, got); diff != "" {
				t.Errorf("%s depends_on (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("healthchecks", func(t *testing.T) {
		want := map[string][]string{
			"fireflow":   {"CMD", "/fireflow", "healthcheck"},
			"postgres":   {"CMD", "pg_isready", "-U", "fireflow", "-d", "fireflow"},
			"prometheus": {"CMD", "wget", "-q", "--spider", "http://localhost:9090/-/ready"},
		}
		for name, test := range want {
			hc := svc(name).HealthCheck
			if hc == nil {
				t.Errorf("%s has no healthcheck", name)
				continue
			}
			if diff := cmp.Diff(test, []string(hc.Test)); diff != "" {
				t.Errorf("%s healthcheck (-want +got):\n%s", name, diff)
			}
			if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
				t.Errorf("%s healthcheck lacks interval, timeout or retries", name)
			}
		}
	})

	t.Run("ports", func(t *testing.T) {
		want := map[string]string{"fireflow": "8080->8080", "prometheus": "9090->9090", "grafana": "3000->3000", "jaeger": "16686->16686"}
		for _, s := range p.Services {
			var got []string
			for _, port := range s.Ports {
				if port.HostIP != "127.0.0.1" {
					t.Errorf("%s publishes %s on %q, not only on loopback", s.Name, port.Published, port.HostIP)
				}
				got = append(got, fmt.Sprintf("%s->%d", port.Published, port.Target))
			}
			if w, ok := want[s.Name]; ok && strings.Join(got, ",") != w {
				t.Errorf("%s ports = %v, want %s", s.Name, got, w)
			} else if !ok && len(got) > 0 {
				t.Errorf("%s publishes %v; only the UIs and the API should", s.Name, got)
			}
		}
	})

	t.Run("fireflow and migrate", func(t *testing.T) {
		for _, name := range []string{"fireflow", "migrate"} {
			s := svc(name)
			if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "deploy/Dockerfile" {
				t.Errorf("%s build = %+v, want deploy/Dockerfile in %s", name, s.Build, root)
			}
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
				t.Errorf("%s: read_only %v, cap_drop %v", name, s.ReadOnly, s.CapDrop)
			}
			env := s.Environment
			if v := env["FIREFLOW_ENV"]; v == nil || *v != "production" {
				t.Errorf("%s FIREFLOW_ENV = %v", name, v)
			}
			if v := env["FIREFLOW_DATABASE_URL"]; v == nil || *v != "postgres://fireflow:pg-secret@postgres:5432/fireflow?sslmode=disable" {
				t.Errorf("%s FIREFLOW_DATABASE_URL = %v", name, v)
			}
			if v := env["OTEL_EXPORTER_OTLP_ENDPOINT"]; v == nil || *v != "http://jaeger:4318" {
				t.Errorf("%s OTEL_EXPORTER_OTLP_ENDPOINT = %v", name, v)
			}
		}
		if got := []string(svc("migrate").Command); !slices.Equal(got, []string{"migrate", "up"}) || svc("migrate").Restart != "no" {
			t.Errorf("migrate runs %v with restart %q; want a one-shot migrate up", got, svc("migrate").Restart)
		}
		if got := []string(svc("fireflow").Command); !slices.Equal(got, []string{"serve"}) {
			t.Errorf("fireflow command = %v", got)
		}
	})

	t.Run("mounts", func(t *testing.T) {
		// The observability configuration is declared here and written by its
		// own generator; the test checks where the stack looks for it.
		want := map[string]map[string]string{
			"prometheus": {"/etc/prometheus": filepath.Join(root, "deploy", "prometheus"), "/prometheus": "prometheus-data"},
			"grafana": {
				"/etc/grafana/provisioning":            filepath.Join(root, "deploy", "grafana", "provisioning"),
				"/var/lib/grafana/dashboards/fireflow": filepath.Join(root, "deploy", "grafana", "dashboards"),
				"/var/lib/grafana":                     "grafana-data",
			},
			"postgres": {"/var/lib/postgresql/data": "postgres-data"},
		}
		for name, mounts := range want {
			got := map[string]string{}
			for _, v := range svc(name).Volumes {
				got[strings.TrimSuffix(v.Target, "/")] = strings.TrimSuffix(v.Source, "/")
				if v.Type == types.VolumeTypeBind && !v.ReadOnly {
					t.Errorf("%s mounts %s writable", name, v.Source)
				}
			}
			if diff := cmp.Diff(mounts, got); diff != "" {
				t.Errorf("%s volumes (-want +got):\n%s", name, diff)
			}
		}
		// The files mounted must point the services at the mounted paths.
		for file, want := range map[string]string{
			filepath.Join(root, "deploy", "grafana", "provisioning", "dashboards", "fireflow.yaml"): "path: /var/lib/grafana/dashboards/fireflow",
			filepath.Join(root, "deploy", "prometheus", "prometheus.yml"):                           "- /etc/prometheus/rules/*.yml",
		} {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), want) {
				t.Errorf("%s lacks %q, so the mounted files would not be found", file, want)
			}
		}
	})

	t.Run("images pinned", func(t *testing.T) {
		for _, s := range p.Services {
			if s.Build != nil {
				continue
			}
			if !pinnedImage.MatchString(s.Image) || !strings.Contains(s.Image, ":") {
				t.Errorf("%s image %q is not pinned to an exact version", s.Name, s.Image)
			}
		}
	})
}

// The secrets have no defaults: without .env the stack refuses to load.
func TestComposeNeedsSecrets(t *testing.T) {
	_, err := loadCompose(t, nil)
	if err == nil || !strings.Contains(err.Error(), "run make up, which writes deploy/compose/.env") {
		t.Fatalf("got %v, want the missing-secret message", err)
	}
}
