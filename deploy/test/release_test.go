package deploytest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// releaseRepo makes a temporary git repository with the release machinery
// (Makefile, scripts/release.sh, VERSION, CHANGELOG.md, Chart.yaml) at
// version 0.1.0, tagged, plus two commits since the tag.
func releaseRepo(t *testing.T, unreleased string) string {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	for _, f := range []string{"Makefile", "scripts/release.sh", "deploy/helm/fireflow/Chart.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("VERSION", "0.1.0\n")
	write("CHANGELOG.md", "# Changelog\n\nIntro.\n\n## [Unreleased]\n"+unreleased+"\n## [0.1.0] - 2026-01-01\n\n### Added\n\n- The first release.\n")
	git := func(args ...string) string { return runCmd(t, dir, gitEnv, "git", args...) }
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "Start")
	git("tag", "-a", "v0.1.0", "-m", "FireFlow 0.1.0")
	for _, msg := range []string{"Add feature A", "Fix bug B"} {
		write("notes.txt", msg)
		git("add", "notes.txt")
		git("commit", "-q", "-m", msg)
	}
	return dir
}

// gitEnv isolates git from the machine's configuration.
var gitEnv = []string{
	"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
	"GIT_AUTHOR_NAME=Release Test", "GIT_AUTHOR_EMAIL=release@example.com",
	"GIT_COMMITTER_NAME=Release Test", "GIT_COMMITTER_EMAIL=release@example.com",
	"RELEASE_DATE=2026-02-03",
}

func TestReleaseDryRun(t *testing.T) {
	tests := []struct {
		target, unreleased string
		want               []string
	}{
		{"release-minor", "", []string{"release: 0.1.0 -> 0.2.0 (minor)", "tag: v0.2.0", "## [0.2.0] - 2026-02-03\n\n### Changed\n\n- Fix bug B\n- Add feature A\n", "dry run: nothing changed"}},
		{"release-patch", "", []string{"release: 0.1.0 -> 0.1.1 (patch)", "tag: v0.1.1", "## [0.1.1] - 2026-02-03"}},
		{"release-major", "", []string{"release: 0.1.0 -> 1.0.0 (major)", "tag: v1.0.0", "## [1.0.0] - 2026-02-03"}},
		{"release-minor", "\n### Fixed\n\n- A written note.\n", []string{"tag: v0.2.0", "## [0.2.0] - 2026-02-03\n\n### Fixed\n\n- A written note.\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.target+map[bool]string{true: " with notes", false: ""}[tt.unreleased != ""], func(t *testing.T) {
			dir := releaseRepo(t, tt.unreleased)
			head := runCmd(t, dir, gitEnv, "git", "rev-parse", "HEAD")
			out := runCmd(t, dir, gitEnv, "make", "--no-print-directory", tt.target, "DRY_RUN=1")
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.unreleased != "" && strings.Contains(out, "Add feature A") {
				t.Errorf("with written notes the commits should not be listed:\n%s", out)
			}
			if st := runCmd(t, dir, gitEnv, "git", "status", "--porcelain"); st != "" {
				t.Errorf("a dry run changed files:\n%s", st)
			}
			if now := runCmd(t, dir, gitEnv, "git", "rev-parse", "HEAD"); now != head {
				t.Error("a dry run committed")
			}
			if tags := runCmd(t, dir, gitEnv, "git", "tag"); tags != "v0.1.0\n" {
				t.Errorf("a dry run tagged: %q", tags)
			}
		})
	}
}

func TestReleaseCommitsAndTags(t *testing.T) {
	dir := releaseRepo(t, "\n### Fixed\n\n- A written note.\n")
	runCmd(t, dir, gitEnv, "make", "--no-print-directory", "release-minor")

	if got := readFile(t, filepath.Join(dir, "VERSION")); got != "0.2.0\n" {
		t.Errorf("VERSION = %q", got)
	}
	wantLog := "## [Unreleased]\n\n## [0.2.0] - 2026-02-03\n\n### Fixed\n\n- A written note.\n\n## [0.1.0] - 2026-01-01\n"
	if got := readFile(t, filepath.Join(dir, "CHANGELOG.md")); !strings.Contains(got, wantLog) {
		t.Errorf("CHANGELOG.md lacks\n%s\ngot:\n%s", wantLog, got)
	}
	chart := readFile(t, filepath.Join(dir, "deploy/helm/fireflow/Chart.yaml"))
	if !strings.Contains(chart, "\nversion: 0.2.0\n") || !strings.Contains(chart, "\nappVersion: \"0.2.0\"\n") {
		t.Errorf("Chart.yaml not bumped:\n%s", chart)
	}
	if st := runCmd(t, dir, gitEnv, "git", "status", "--porcelain"); st != "" {
		t.Errorf("the release left changes uncommitted:\n%s", st)
	}
	if subject := runCmd(t, dir, gitEnv, "git", "log", "-1", "--format=%s"); subject != "Release v0.2.0\n" {
		t.Errorf("last commit = %q", subject)
	}
	tagged := runCmd(t, dir, gitEnv, "git", "rev-parse", "v0.2.0^{commit}")
	if head := runCmd(t, dir, gitEnv, "git", "rev-parse", "HEAD"); tagged != head {
		t.Errorf("v0.2.0 is %s, HEAD is %s", tagged, head)
	}

	// Nothing new, nothing to release; after another commit the next
	// version follows; a dirty tree is refused.
	if out, err := tryCmd(dir, gitEnv, "scripts/release.sh", "minor"); err == nil || !strings.Contains(out, "nothing to release") {
		t.Errorf("a release without changes: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("C"), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, dir, gitEnv, "git", "commit", "-q", "-am", "Add feature C")
	if out, err := tryCmd(dir, append(gitEnv, "DRY_RUN=1"), "scripts/release.sh", "minor"); err != nil || !strings.Contains(out, "0.2.0 -> 0.3.0") {
		t.Errorf("next dry run: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("dirty"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := tryCmd(dir, gitEnv, "make", "--no-print-directory", "release-patch")
	if err == nil || !strings.Contains(out, "uncommitted changes") {
		t.Errorf("a release from a dirty tree: %v\n%s", err, out)
	}
	if tags := runCmd(t, dir, gitEnv, "git", "tag"); tags != "v0.1.0\nv0.2.0\n" {
		t.Errorf("tags = %q", tags)
	}
}
