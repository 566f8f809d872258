package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names an existing server to test against instead of starting one.
// Its user must be allowed to create databases.
const EnvURL = "FIREFLOW_TEST_POSTGRES_URL"

// server is the test binary's PostgreSQL, set up by Main.
var server struct {
	admin string // URL of a database to connect to for CREATE DATABASE
	err   error  // why there is no server
}

// Main runs the tests of a package that uses PostgreSQL; call it from
// TestMain. It starts the binary's cluster first (unless EnvURL is set) and
// stops it when the tests end, whether they pass or fail.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if u := os.Getenv(EnvURL); u != "" {
		server.admin = u
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	c, err := StartCluster(ctx)
	cancel()
	if err != nil {
		server.err = err
		return m.Run()
	}
	defer func() {
		if err := c.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop the cluster: %v\n", err)
		}
	}()
	server.admin = c.URL("postgres")
	return m.Run()
}

// Require skips the test, loudly, when there is no PostgreSQL to test
// against, or fails it under CI=true or when the server failed to start.
func Require(t testing.TB) {
	t.Helper()
	switch {
	case server.admin != "":
		return
	case server.err == nil:
		t.Fatal("pgtest: no PostgreSQL server: call pgtest.Main(m) from TestMain")
	case errors.Is(server.err, ErrNoBinaries) && os.Getenv("CI") != "true":
		t.Skipf("\n\n*** SKIPPING POSTGRESQL TEST: %v (CI=true makes this a failure) ***\n", server.err)
	default:
		t.Fatalf("pgtest: %v", server.err)
	}
}

// NewDatabase creates an empty database for the test and returns its URL.
// It copies the template's files (STRATEGY = FILE_COPY, PostgreSQL 15 and
// later), which for a small database is several times faster than writing
// them to the WAL.
// The database is dropped when the test ends, after the test's own cleanups
// registered later (such as closing a pool) have run.
func NewDatabase(t testing.TB) string {
	t.Helper()
	Require(t)
	name := "test_" + strings.ToLower(rand.Text())
	if err := admin(t.Context(), "CREATE DATABASE "+name+" STRATEGY = FILE_COPY"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return withDatabase(server.admin, name)
}

// RequireBinaries skips or fails the test like Require when initdb and
// pg_ctl are missing, for tests that start a cluster of their own.
func RequireBinaries(t testing.TB) {
	t.Helper()
	if _, err := findBinaries(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v", err)
		}
		t.Skipf("\n\n*** SKIPPING POSTGRESQL TEST: %v (CI=true makes this a failure) ***\n", err)
	}
}

// NewCluster starts a cluster for this test alone, for tests that stop and
// restart the server; it is closed when the test ends. Others should use
// NewDatabase, which costs a database instead of an initdb.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	RequireBinaries(t)
	c, err := StartCluster(t.Context())
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("PostgreSQL server log:\n%s", c.Log())
		}
		if err := c.Close(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

func admin(ctx context.Context, statement string) error {
	conn, err := pgx.Connect(ctx, server.admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", server.admin, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, statement); err != nil {
		return fmt.Errorf("%s: %w", statement, err)
	}
	return nil
}

// withDatabase returns raw with its path replaced by /db.
func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Keyword/value connection strings take a dbname keyword instead.
		return raw + " dbname=" + db
	}
	u.Path = "/" + db
	return u.String()
}
