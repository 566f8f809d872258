package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// parseDockerfile parses deploy/Dockerfile with buildkit's own parser, the
// one `docker build` uses, into its stages.
func parseDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range ast.Warnings {
		t.Errorf("Dockerfile warning: %s", w.Short)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile instructions: %v", err)
	}
	return stages
}

// goBuildCommand is the build stage's `go build` RUN line, the command
// that makes the image's binary.
func goBuildCommand(t *testing.T, stages []instructions.Stage) string {
	t.Helper()
	var found []string
	for _, s := range stages {
		for _, c := range s.Commands {
			if run, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(run.CmdLine, " "), "go build") {
				found = append(found, strings.Join(run.CmdLine, " "))
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one `go build` RUN line, found %d", len(found))
	}
	return found[0]
}

// An image is pinned by digest, or by a tag that names a release to its
// minor number at least (PostgreSQL's 17.6 is its exact release): never
// latest, never a bare major.
var pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:v?[0-9]+\.[0-9]+(\.[0-9]+)?[A-Za-z0-9._-]*)?(@sha256:[a-f0-9]{64})?$`)

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(stages))
	}
	names := map[string]bool{}
	for _, s := range stages {
		t.Run("base "+s.BaseName, func(t *testing.T) {
			switch {
			case s.BaseName == "scratch", names[s.BaseName]:
			case !pinnedImage.MatchString(s.BaseName) || (!strings.Contains(s.BaseName, "@sha256:") && !strings.Contains(s.BaseName, ":")):
				t.Errorf("base image %q is not pinned to an exact version tag or digest", s.BaseName)
			}
		})
		names[s.Name] = true
	}

	t.Run("no remote ADD", func(t *testing.T) {
		for _, s := range stages {
			for _, c := range s.Commands {
				add, ok := c.(*instructions.AddCommand)
				if !ok {
					continue
				}
				for _, src := range add.SourcePaths {
					if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
						t.Errorf("stage %s adds the remote %s", s.Name, src)
					}
				}
			}
		}
	})

	t.Run("modules before sources", func(t *testing.T) {
		var order []string
		for _, c := range stages[0].Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				order = append(order, "copy "+strings.Join(c.SourcePaths, " "))
			case *instructions.RunCommand:
				order = append(order, "run "+strings.Join(c.CmdLine, " "))
			}
		}
		joined := strings.Join(order, "\n")
		mods := strings.Index(joined, "copy go.mod go.sum")
		download := strings.Index(joined, "go mod download")
		sources := strings.Index(joined, "copy cmd/")
		if mods < 0 || download < mods || sources < download {
			t.Errorf("want COPY go.mod go.sum, then go mod download, then the sources:\n%s", joined)
		}
	})

	t.Run("build flags", func(t *testing.T) {
		build := goBuildCommand(t, stages)
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=$VERSION", "-X main.commit=$COMMIT", "-X main.date=$DATE", "-o /out/fireflow"} {
			if !strings.Contains(build, want) {
				t.Errorf("the go build line lacks %q: %s", want, build)
			}
		}
	})

	final := stages[len(stages)-1]
	var user string
	var health *instructions.HealthCheckCommand
	labels := map[string]string{}
	var entrypoint []string
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.HealthCheckCommand:
			health = c
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = strings.Trim(kv.Value, `"`) // unexpanded: quotes kept
			}
		case *instructions.EntrypointCommand:
			entrypoint = c.CmdLine
		}
	}
	t.Run("non-root user", func(t *testing.T) {
		// Numeric, so that Kubernetes' runAsNonRoot can verify it.
		if user != "10001:10001" {
			t.Errorf("final USER = %q, want 10001:10001 (appuser:appgroup)", user)
		}
	})
	t.Run("healthcheck", func(t *testing.T) {
		if health == nil {
			t.Fatal("the final stage has no HEALTHCHECK")
		}
		if got := strings.Join(health.Health.Test, " "); got != "CMD /fireflow healthcheck" {
			t.Errorf("HEALTHCHECK runs %q, want the exec form of /fireflow healthcheck", got)
		}
		if health.Health.Timeout <= 0 || health.Health.Interval <= 0 {
			t.Errorf("HEALTHCHECK timing not set: %+v", health.Health)
		}
	})
	t.Run("labels and entrypoint", func(t *testing.T) {
		for key, want := range map[string]string{
			"org.opencontainers.image.version":  "$VERSION",
			"org.opencontainers.image.revision": "$COMMIT",
			"org.opencontainers.image.created":  "$DATE",
			"org.opencontainers.image.title":    "FireFlow",
		} {
			if got := labels[key]; got != want {
				t.Errorf("LABEL %s = %q, want %q", key, got, want)
			}
		}
		if strings.Join(entrypoint, " ") != "/fireflow" {
			t.Errorf("ENTRYPOINT = %q", entrypoint)
		}
	})
}

// dockerignore reads .dockerignore with the parser docker build uses.
func dockerignore(t *testing.T, root string) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return pm
}

func TestDockerignore(t *testing.T) {
	pm := dockerignore(t, repoRoot(t))
	tests := []struct {
		path    string
		ignored bool
	}{
		{"go.mod", false},
		{"go.sum", false},
		{"cmd/fireflow/main.go", false},
		{"internal/store/sqlite/migrations/00001_init.sql", false},
		{".git/config", true},
		{"data/fireflow.db", true},
		{"bin/fireflow", true},
		{"deploy/helm/fireflow/values.yaml", true},
		{"cmd/fireflow/main_test.go", true},
		{"tools/go.mod", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := pm.MatchesOrParentMatches(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.ignored {
				t.Errorf("ignored = %v, want %v", got, tt.ignored)
			}
		})
	}
}
