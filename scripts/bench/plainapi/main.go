// Command plainapi serves the FireFlow API over an existing SQLite database
// as fireflow serve does, with its server timeouts, but without metrics,
// tracing or access logs (the request id, error mapping and panic recovery
// stay: they are the API's). With -secret-file it checks
// tokens as fireflow does; without it, a stub lets every request in as
// admin. make bench runs both beside the real server: fireflow against the
// first measures what observability costs, the first against the second
// what authentication costs. It is a benchmark baseline, never a way to run
// FireFlow.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/config"
	"github.com/fireflow/fireflow/internal/httpapi"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// allowAll admits every request as an admin, without looking at the token.
type allowAll struct{}

func (allowAll) Verify(context.Context, string) (auth.Principal, error) {
	return auth.Principal{Subject: "bench", Roles: []string{"admin"}, Role: auth.Admin}, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "plainapi:", err)
		os.Exit(1)
	}
}

func run() error {
	db := flag.String("db", "", "path of a migrated FireFlow SQLite database")
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	addrFile := flag.String("addr-file", "", "write the bound address here once listening")
	secretFile := flag.String("secret-file", "", "verify HS256 tokens with the secret in this file; without it every request is let in")
	flag.Parse()
	if *db == "" {
		return errors.New("-db is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	store, err := sqlite.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("refusing to listen on %s: loopback only", ln.Addr())
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o600); err != nil {
			return err
		}
	}
	var authn httpapi.Authenticator = allowAll{}
	if *secretFile != "" {
		secret, err := os.ReadFile(*secretFile)
		if err != nil {
			return err
		}
		if authn, err = auth.NewVerifier(ctx, auth.Config{HS256Secret: bytes.TrimSpace(secret)}); err != nil {
			return err
		}
	}
	// The same server timeouts as fireflow serve's defaults, since they cost
	// a deadline per request: the comparison is meant to show the middleware.
	defaults, err := config.Load("serve", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           httpapi.New(service.New(store), httpapi.Options{Version: "plain", Auth: authn}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       defaults.ReadTimeout,
		WriteTimeout:      defaults.WriteTimeout,
		IdleTimeout:       defaults.IdleTimeout,
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
