package config

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestObservabilitySettings(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		wantPprof bool
		wantDSN   string
		wantErr   string
	}{
		{name: "defaults"},
		{name: "pprof from the environment", env: map[string]string{"FIREFLOW_PPROF": "true"}, wantPprof: true},
		{name: "flag wins", env: map[string]string{"FIREFLOW_PPROF": "true"}, args: []string{"--pprof=false"}},
		{name: "bad pprof", env: map[string]string{"FIREFLOW_PPROF": "sometimes"}, wantErr: "FIREFLOW_PPROF"},
		{name: "sentry", env: map[string]string{"SENTRY_DSN": "https://key@sentry.example/1"}, wantDSN: "https://key@sentry.example/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("serve", tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Pprof != tt.wantPprof || c.SentryDSN != tt.wantDSN {
				t.Fatalf("pprof %v dsn %q, want %v %q", c.Pprof, c.SentryDSN, tt.wantPprof, tt.wantDSN)
			}
			if c.MetricsAddr != ":9464" {
				t.Errorf("metrics address %q, want :9464", c.MetricsAddr)
			}
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
			if tt.wantDSN != "" && strings.Contains(buf.String(), "key@") {
				t.Errorf("the logged configuration shows the DSN: %s", buf.String())
			}
		})
	}
}
