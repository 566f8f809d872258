// Command pgcluster runs a throwaway PostgreSQL cluster for the benchmark:
// initdb into a temporary directory, a server on a free 127.0.0.1 port (as
// the postgres user when run as root), the database URL written to
// -url-file, and on SIGINT or SIGTERM the server stopped and the directory
// removed. It is the cluster of the tests (internal/pgtest), but durable:
// fsync and full-page writes are on, as in production.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fireflow/fireflow/internal/pgtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		os.Exit(1)
	}
}

func run() error {
	urlFile := flag.String("url-file", "", "write the database URL to this file once the server is up")
	flag.Parse()
	if *urlFile == "" {
		return fmt.Errorf("-url-file is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	c, err := pgtest.StartCluster(startCtx, "fsync=on", "full_page_writes=on")
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "pgcluster: stop:", err)
		}
	}()
	// Written to a temporary name and renamed, so that a reader polling
	// for the file never sees half a URL.
	if err := os.WriteFile(*urlFile+".tmp", []byte(c.URL("postgres")+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(*urlFile+".tmp", *urlFile); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}
