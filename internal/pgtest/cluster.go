// Package pgtest gives tests a real PostgreSQL server. Unless
// FIREFLOW_TEST_POSTGRES_URL names one, Main starts one throwaway cluster
// per test binary from the installed binaries (initdb, pg_ctl), listening
// only on 127.0.0.1, and NewDatabase gives each test its own fresh database
// in it, dropped when the test ends.
//
// Without PostgreSQL binaries the tests that need it skip with a loud
// message, except under CI=true, where they fail.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinaries reports that initdb and pg_ctl were found nowhere.
var ErrNoBinaries = errors.New("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin; install the Debian postgresql package")

// superuser is the role initdb creates; trust authentication lets it in
// without a password, which is safe on a loopback-only throwaway cluster.
const superuser = "fireflow"

// Cluster is a throwaway PostgreSQL cluster in a temporary directory.
type Cluster struct {
	settings []string // extra server settings, name=value
	bin      string   // directory holding initdb and pg_ctl
	dir      string   // holds data/, the log and the unix socket
	port     int
	cred     *syscall.Credential // the postgres user's, when running as root
}

// StartCluster creates a cluster with initdb in a new temporary directory
// and starts it on a free loopback port. As root it runs everything as the
// postgres user, which PostgreSQL requires. A watchdog process stops the
// cluster and removes the directory if this process dies without calling
// Close, for example when a test panics. settings are extra server
// settings as name=value, applied after (so overriding) the defaults.
func StartCluster(ctx context.Context, settings ...string) (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, settings: settings}
	if c.cred, err = credential(); err != nil {
		return nil, err
	}
	if c.dir, err = os.MkdirTemp("", "fireflow-pgtest-"); err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, errors.Join(fmt.Errorf("hand the cluster directory to postgres: %w", err), os.RemoveAll(c.dir))
		}
	}
	if err := c.run(ctx, "initdb", "-D", c.data(), "-A", "trust", "-U", superuser,
		"-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return nil, errors.Join(err, os.RemoveAll(c.dir))
	}
	if err := c.watchdog(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(c.dir))
	}
	// A port found free may be taken before the server binds it; another
	// try takes another port.
	for attempt := 1; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			if err = c.Start(ctx); err == nil {
				return c, nil
			}
		}
		if attempt == 3 {
			return nil, errors.Join(err, c.Close())
		}
	}
}

// URL returns the URL of database db in the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, c.port, db)
}

// Start starts the server (again, after Stop) on the cluster's port, and
// waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	// fsync off: a throwaway cluster trades durability against a machine
	// crash for speed. synchronous_commit stays on, so that a commit is
	// written to the OS before it is acknowledged and a killed server (the
	// fault tests) still loses nothing it acknowledged.
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c max_connections=300",
		c.port, c.dir)
	for _, s := range c.settings {
		opts += " -c " + s
	}
	return c.run(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
}

// Stop stops the server with pg_ctl's mode: "immediate" kills it as a crash
// would, "fast" disconnects clients and shuts down cleanly.
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	return c.run(ctx, "pg_ctl", "-D", c.data(), "-m", mode, "-w", "-t", "60", "stop")
}

// Close stops the server and removes the cluster's directory.
func (c *Cluster) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stopErr error
	if c.running() {
		stopErr = c.Stop(ctx, "immediate")
	}
	return errors.Join(stopErr, os.RemoveAll(c.dir))
}

// Log returns the server's log, to explain a failure.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log")) // a missing log has nothing to say
	return string(b)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) running() bool {
	_, err := os.Stat(filepath.Join(c.data(), "postmaster.pid"))
	return err == nil
}

// run runs one of the PostgreSQL programs as the cluster's owner.
func (c *Cluster) run(ctx context.Context, program string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, program), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", program, strings.Join(args, " "), err, out)
	}
	return nil
}

// watchdog starts a detached shell that waits for this process to end and
// then stops the cluster and removes it. Close does the same first when all
// goes well; then the watchdog finds nothing left to do.
func (c *Cluster) watchdog() error {
	script := fmt.Sprintf(`while [ -d /proc/%d ]; do sleep 1; done
if [ -f %[2]s/postmaster.pid ]; then %[3]s -D %[2]s -m immediate -w stop >/dev/null 2>&1; fi
rm -rf %[4]s`, os.Getpid(), shellQuote(c.data()), shellQuote(filepath.Join(c.bin, "pg_ctl")), shellQuote(c.dir))
	cmd := exec.Command("/bin/sh", "-c", script)
	// Its own process group keeps a Ctrl-C meant for the tests from killing it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the cluster watchdog: %w", err)
	}
	return cmd.Process.Release()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// findBinaries returns the directory holding initdb and pg_ctl: the one on
// PATH, else the newest /usr/lib/postgresql/*/bin.
func findBinaries() (string, error) {
	has := func(dir string) bool {
		for _, p := range []string{"initdb", "pg_ctl"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				return false
			}
		}
		return true
	}
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin") // the pattern is valid
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

// majorOf returns the version in /usr/lib/postgresql/VERSION/bin.
func majorOf(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin))) // non-numeric sorts last
	return n
}

// credential returns the postgres user's credential when running as root,
// since PostgreSQL refuses to run as root, and nil otherwise.
func credential() (*syscall.Credential, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a loopback TCP port that nothing listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
