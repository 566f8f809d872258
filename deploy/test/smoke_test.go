package deploytest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// The image's account (deploy/Dockerfile: USER 10001:10001).
const appUID, appGID = 10001, 10001

// TestImageBinarySmoke builds the binary with the Dockerfile's own `go
// build` line and runs it the way the image does: as appuser, from a
// directory it cannot write, with only the data directory writable, in
// production mode (migrate first, as the Job does, then serve).
func TestImageBinarySmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test runs the binary as UID 10001 and must run as root (CI does; locally: sudo make test-deploy)")
	}
	root := repoRoot(t)
	version := strings.TrimSpace(readFile(t, filepath.Join(root, "VERSION")))

	// The image's filesystem: a root-owned, read-only directory holding the
	// binary, and /data owned by appuser.
	img := t.TempDir()
	for _, dir := range []string{filepath.Dir(img), img} {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	binary := filepath.Join(img, "fireflow")
	stages := parseDockerfile(t)
	build := strings.Replace(goBuildCommand(t, stages), "-o /out/fireflow", "-o "+binary, 1)
	runCmd(t, buildContext(t, root, stages[0]), []string{"TARGETOS=linux", "TARGETARCH=" + runtime.GOARCH, "VERSION=" + version, "COMMIT=smoke", "DATE=2026-01-02T03:04:05Z"}, "sh", "-c", build)
	data := filepath.Join(img, "data")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, appUID, appGID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(binary, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(img, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(img, 0o755) })

	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	env := []string{
		"FIREFLOW_ENV=production",
		"FIREFLOW_DATABASE_URL=sqlite:" + filepath.Join(data, "fireflow.db"),
		"FIREFLOW_JWT_SECRET=" + hex.EncodeToString(secret),
		"FIREFLOW_ADDR=127.0.0.1:0",
		"FIREFLOW_METRICS_ADDR=127.0.0.1:0",
	}
	asApp := func(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Dir = data // the image's WORKDIR
		cmd.Env = append(append([]string{"PATH=/nonexistent", "HOME=" + data}, env...), extraEnv...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: appUID, Gid: appGID, Groups: []uint32{}}}
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("version", func(t *testing.T) {
		out, err := asApp(ctx, nil, "version").CombinedOutput()
		if err != nil {
			t.Fatalf("fireflow version: %v\n%s", err, out)
		}
		if want := "fireflow " + version + " (commit smoke, built 2026-01-02T03:04:05Z"; !strings.HasPrefix(string(out), want) {
			t.Errorf("fireflow version printed %q, want it to start with %q", out, want)
		}
	})

	t.Run("cannot write outside the data directory", func(t *testing.T) {
		out, err := asApp(ctx, []string{"FIREFLOW_DATABASE_URL=sqlite:" + filepath.Join(img, "elsewhere.db")}, "migrate", "up").CombinedOutput()
		if err == nil {
			t.Fatalf("migrate wrote a database next to the binary; the test's filesystem is not read-only:\n%s", out)
		}
	})

	if out, err := asApp(ctx, nil, "migrate", "up").CombinedOutput(); err != nil {
		t.Fatalf("fireflow migrate up: %v\n%s", err, out)
	}

	serve := asApp(ctx, nil, "serve")
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	serve.Stderr = &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	defer func() {
		_ = serve.Process.Kill()
	}()
	addr := listenAddr(t, stdout, &logs)
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	base := "http://" + addr

	t.Run("readyz", func(t *testing.T) {
		if code := pollStatus(ctx, base+"/readyz", http.StatusOK); code != http.StatusOK {
			t.Fatalf("/readyz answered %d, want 200; logs:\n%s", code, logs.String())
		}
	})
	t.Run("healthcheck subcommand", func(t *testing.T) {
		out, err := asApp(ctx, []string{"FIREFLOW_ADDR=" + addr}, "healthcheck").CombinedOutput()
		if err != nil {
			t.Fatalf("fireflow healthcheck: %v\n%s", err, out)
		}
	})
	t.Run("health-check shows the version", func(t *testing.T) {
		res, err := http.Get(base + "/health-check")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Status, Version string }
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		if body.Status != "OK" || body.Version != version {
			t.Errorf("/health-check = %+v, want OK and %s", body, version)
		}
	})

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM; logs:\n%s", err, logs.String())
		}
	case <-ctx.Done():
		t.Fatal("serve did not stop after SIGTERM")
	}
	entries, err := os.ReadDir(img)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "data,fireflow" {
		t.Errorf("the image directory changed: %v", names)
	}
}

// buildContext recreates the build stage's WORKDIR as Docker would fill
// it: what its COPY instructions take from the build context, less what
// .dockerignore leaves out. A file the build needs but the image build
// would not see then fails here too.
func buildContext(t *testing.T, root string, stage instructions.Stage) string {
	t.Helper()
	ignore := dockerignore(t, root)
	dir := t.TempDir()
	for _, c := range stage.Commands {
		cp, ok := c.(*instructions.CopyCommand)
		if !ok || cp.From != "" {
			continue
		}
		dest := filepath.Join(dir, cp.DestPath)
		for _, src := range cp.SourcePaths {
			err := filepath.WalkDir(filepath.Join(root, src), func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, _ := filepath.Rel(root, path)
				if skip, err := ignore.MatchesOrParentMatches(rel); err != nil || skip {
					return err
				}
				target := filepath.Join(dest, filepath.Base(path))
				if strings.HasSuffix(src, "/") {
					inner, _ := filepath.Rel(filepath.Join(root, src), path)
					target = filepath.Join(dest, inner)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
					return err
				}
				return os.WriteFile(target, b, 0o644)
			})
			if err != nil {
				t.Fatalf("COPY %s: %v", src, err)
			}
		}
	}
	return dir
}

// listenAddr reads the server's "listening on http://ADDR" line.
func listenAddr(t *testing.T, stdout io.Reader, logs fmt.Stringer) string {
	t.Helper()
	listening := regexp.MustCompile(`listening on http://(\S+)`)
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("the server did not say where it listens; logs:\n%s", logs.String())
	return ""
}

// pollStatus asks url until it answers want or ctx ends, and returns the
// last status (0 if it never answered).
func pollStatus(ctx context.Context, url string, want int) int {
	last := 0
	for {
		if res, err := http.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			last = res.StatusCode
			if last == want {
				return last
			}
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
