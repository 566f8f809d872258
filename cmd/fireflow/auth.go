package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/config"
)

// devTokenTTL is how long the admin token printed by a development server lasts.
const devTokenTTL = 24 * time.Hour

// hs256Secret returns the configured HS256 secret. In development, with no
// secret and no JWKS URL, it reads the development secret file, creating
// it on first use. Production never touches that file and refuses a
// development secret, so that a forgotten setting cannot open the API.
func hs256Secret(cfg config.Config) ([]byte, error) {
	if cfg.JWTSecret != "" {
		if cfg.Production() && auth.IsDevSecret([]byte(cfg.JWTSecret)) {
			return nil, errors.New("production refuses a development secret; set FIREFLOW_JWT_SECRET to a secret of your own or use FIREFLOW_JWT_JWKS_URL")
		}
		return []byte(cfg.JWTSecret), nil
	}
	if cfg.JWKSURL != "" {
		return nil, nil
	}
	// Checked here, not in config, because only what verifies or mints
	// tokens needs a key: "fireflow migrate" in production needs none.
	if cfg.Production() {
		return nil, errors.New("production needs FIREFLOW_JWT_JWKS_URL or FIREFLOW_JWT_SECRET; it never uses the development secret")
	}
	return loadDevSecret(cfg.DevSecretFile)
}

func loadDevSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read development secret: %w", err)
	}
	secret, err := auth.NewDevSecret()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create development secret directory: %w", err)
	}
	// O_EXCL: when two processes race to create it, one wins and the other
	// reads the winner's secret.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadDevSecret(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create development secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write development secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write development secret: %w", err)
	}
	return []byte(secret), nil
}

// newVerifier builds the token verifier the configuration asks for.
func newVerifier(ctx context.Context, cfg config.Config) (*auth.Verifier, []byte, error) {
	secret, err := hs256Secret(cfg)
	if err != nil {
		return nil, nil, err
	}
	v, err := auth.NewVerifier(ctx, auth.Config{
		HS256Secret: secret,
		JWKSURL:     cfg.JWKSURL,
		Issuer:      cfg.JWTIssuer,
		Audience:    cfg.JWTAudience,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("configure token verification: %w", err)
	}
	return v, secret, nil
}

// token runs "fireflow token --sub NAME --role ROLE --ttl DURATION": it
// prints an HS256 token signed with the configured or development secret.
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("token", flag.ContinueOnError)
	fset.SetOutput(stderr)
	sub := fset.String("sub", "", "the token's subject, such as a user name (required)")
	// admin, as make jwt and the token a development server prints, so
	// that every route of the README's tour works with the default.
	role := fset.String("role", string(auth.Admin), "admin, editor, approver or viewer")
	ttl := fset.Duration("ttl", 24*time.Hour, "how long the token is valid")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if *sub == "" {
		return errors.New("token: --sub is required")
	}
	switch auth.Role(*role) {
	case auth.Viewer, auth.Editor, auth.Approver, auth.Admin:
	default:
		return fmt.Errorf("token: role %q: use viewer, editor, approver or admin", *role)
	}
	if *ttl <= 0 {
		return errors.New("token: --ttl must be positive")
	}
	// The secret, issuer and audience come from the same FIREFLOW_*
	// variables as the server's, so that the token verifies there.
	cfg, err := config.Load("token", nil, getenv, stderr)
	if err != nil {
		return err
	}
	secret, err := hs256Secret(cfg)
	if err != nil {
		return err
	}
	if secret == nil {
		return errors.New("token: no HS256 secret is configured; tokens for a JWKS setup come from your identity provider")
	}
	tok, err := auth.Mint(secret, *sub, []string{*role}, *ttl, cfg.JWTIssuer, cfg.JWTAudience, time.Now())
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
