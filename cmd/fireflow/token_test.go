package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fireflow/fireflow/internal/auth"
)

// TestTokenDefaultsToAdmin checks that "fireflow token" and "make jwt"
// agree: without --role the token grants admin.
func TestTokenDefaultsToAdmin(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "dev-secret")
	env := map[string]string{"FIREFLOW_DEV_SECRET_FILE": secretFile}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name string
		args []string
		want auth.Role
	}{
		{"default", []string{"--sub", "alice"}, auth.Admin},
		{"viewer asked for", []string{"--sub", "alice", "--role", "viewer"}, auth.Viewer},
		{"approver asked for", []string{"--sub", "alice", "--role", "approver"}, auth.Approver},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			if err := run(context.Background(), append([]string{"token"}, tt.args...), getenv, &out, io.Discard); err != nil {
				t.Fatal(err)
			}
			secret, err := loadDevSecret(secretFile)
			if err != nil {
				t.Fatal(err)
			}
			v, err := auth.NewVerifier(context.Background(), auth.Config{HS256Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
			if err != nil {
				t.Fatalf("the minted token does not verify: %v", err)
			}
			if p.Subject != "alice" || p.Role != tt.want {
				t.Errorf("subject %q role %q, want alice %s", p.Subject, p.Role, tt.want)
			}
		})
	}
}
