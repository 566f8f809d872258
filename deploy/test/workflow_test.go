package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestGitHubWorkflow(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On struct {
			Push struct {
				Branches []string `json:"branches"`
				Tags     []string `json:"tags"`
			} `json:"push"`
		} `json:"on"`
		Jobs map[string]struct {
			If    string `json:"if"`
			Needs any    `json:"needs"`
			Steps []struct {
				Name string `json:"name"`
				Uses string `json:"uses"`
				Run  string `json:"run"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("ci.yml: %v", err)
	}
	if !slices.Equal(wf.On.Push.Branches, []string{"main"}) || len(wf.On.Push.Tags) == 0 {
		t.Errorf("push triggers: branches %v, tags %v; want main and version tags", wf.On.Push.Branches, wf.On.Push.Tags)
	}
	makeStep := regexp.MustCompile(`^(sudo [^\n]*)?make [a-z-]+( [A-Z_]+=.*)?$`)
	var targets []string
	for name, job := range wf.Jobs {
		for _, s := range job.Steps {
			if s.Run == "" {
				continue
			}
			run := strings.TrimSpace(s.Run)
			if !makeStep.MatchString(run) {
				t.Errorf("job %s step %q runs %q; steps call make targets only", name, s.Name, run)
				continue
			}
			targets = append(targets, name+":"+strings.Fields(run[strings.Index(run, "make "):])[1])
		}
		for _, s := range job.Steps {
			if s.Uses != "" && !regexp.MustCompile(`@v[0-9]+$|@[0-9a-f]{40}$`).MatchString(s.Uses) {
				t.Errorf("job %s uses %s without a pinned version", name, s.Uses)
			}
		}
	}
	for _, want := range []string{"check:build", "check:lint", "check:test", "check:test-deploy", "image:check-release-tag", "image:image-push"} {
		if !slices.Contains(targets, want) {
			t.Errorf("no step runs make %s (have %v)", want, targets)
		}
	}
	if img := wf.Jobs["image"]; !strings.Contains(img.If, "refs/tags/v") || img.Needs != "check" {
		t.Errorf("the image job must run on tags only, after check: if %q, needs %v", img.If, img.Needs)
	}
}

func TestSkaffold(t *testing.T) {
	deploy := filepath.Join(repoRoot(t), "deploy")
	b, err := os.ReadFile(filepath.Join(deploy, "skaffold.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type release struct {
		Name              string            `json:"name"`
		ChartPath         string            `json:"chartPath"`
		SetValueTemplates map[string]string `json:"setValueTemplates"`
		SetValues         map[string]any    `json:"setValues"`
	}
	type deployCfg struct {
		Helm struct {
			Releases []release `json:"releases"`
		} `json:"helm"`
	}
	var cfg struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Build      struct {
			Artifacts []struct {
				Image   string `json:"image"`
				Context string `json:"context"`
				Docker  struct {
					Dockerfile string `json:"dockerfile"`
				} `json:"docker"`
			} `json:"artifacts"`
		} `json:"build"`
		Deploy   deployCfg `json:"deploy"`
		Profiles []struct {
			Name       string `json:"name"`
			Activation []struct {
				KubeContext string `json:"kubeContext"`
			} `json:"activation"`
			Build struct {
				Local struct {
					Push *bool `json:"push"`
				} `json:"local"`
			} `json:"build"`
			Deploy deployCfg `json:"deploy"`
		} `json:"profiles"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.APIVersion, "skaffold/v4") || cfg.Kind != "Config" {
		t.Errorf("apiVersion %q kind %q", cfg.APIVersion, cfg.Kind)
	}
	if len(cfg.Build.Artifacts) != 1 {
		t.Fatalf("want one artifact, got %d", len(cfg.Build.Artifacts))
	}
	a := cfg.Build.Artifacts[0]
	if _, err := os.Stat(filepath.Join(deploy, a.Context, a.Docker.Dockerfile)); err != nil || a.Image != "fireflow" {
		t.Errorf("artifact %s builds %s in %s: %v", a.Image, a.Docker.Dockerfile, a.Context, err)
	}
	checkRelease := func(where string, d deployCfg) {
		if len(d.Helm.Releases) != 1 {
			t.Fatalf("%s: want one helm release, got %d", where, len(d.Helm.Releases))
		}
		r := d.Helm.Releases[0]
		// Named fireflow, the chart's Service is service/fireflow, as the README's port-forward expects.
		if r.Name != "fireflow" {
			t.Errorf("%s: release %q, want fireflow", where, r.Name)
		}
		if _, err := os.Stat(filepath.Join(deploy, r.ChartPath, "Chart.yaml")); err != nil {
			t.Errorf("%s: chartPath %s: %v", where, r.ChartPath, err)
		}
		if r.SetValueTemplates["image.repository"] != "{{.IMAGE_REPO_fireflow}}" || !strings.HasPrefix(r.SetValueTemplates["image.tag"], "{{.IMAGE_TAG_fireflow}}") {
			t.Errorf("%s: the release does not deploy the built image: %v", where, r.SetValueTemplates)
		}
	}
	checkRelease("deploy", cfg.Deploy)
	var found bool
	for _, p := range cfg.Profiles {
		if p.Name != "minikube" {
			continue
		}
		found = true
		if len(p.Activation) != 1 || p.Activation[0].KubeContext != "minikube" {
			t.Errorf("minikube profile activation = %+v", p.Activation)
		}
		if p.Build.Local.Push == nil || *p.Build.Local.Push {
			t.Error("the minikube profile should build locally without pushing")
		}
		checkRelease("minikube profile", p.Deploy)
		if p.Deploy.Helm.Releases[0].SetValues["persistence.enabled"] != true {
			t.Errorf("minikube profile values = %v", p.Deploy.Helm.Releases[0].SetValues)
		}
	}
	if !found {
		t.Error("no minikube profile")
	}
}
