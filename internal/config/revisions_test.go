package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestRevisionSettings(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantKeep   int
		wantAge    time.Duration
		wantErrHas string
	}{
		{name: "defaults keep all"},
		{name: "from the environment", env: map[string]string{"FIREFLOW_REVISIONS_KEEP": "1000", "FIREFLOW_REVISIONS_MAX_AGE": "2160h"},
			wantKeep: 1000, wantAge: 2160 * time.Hour},
		{name: "flags win", env: map[string]string{"FIREFLOW_REVISIONS_KEEP": "1000"},
			args: []string{"--revisions-keep", "10", "--revisions-max-age", "1h"}, wantKeep: 10, wantAge: time.Hour},
		{name: "bad count", env: map[string]string{"FIREFLOW_REVISIONS_KEEP": "many"}, wantErrHas: "FIREFLOW_REVISIONS_KEEP"},
		{name: "bad age", env: map[string]string{"FIREFLOW_REVISIONS_MAX_AGE": "90 days"}, wantErrHas: "FIREFLOW_REVISIONS_MAX_AGE"},
		{name: "negative count", args: []string{"--revisions-keep", "-1"}, wantErrHas: "revisions to keep"},
		{name: "negative age", args: []string{"--revisions-max-age", "-1h"}, wantErrHas: "revision max age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load("serve", tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErrHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrHas) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErrHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.RevisionsKeep != tt.wantKeep || c.RevisionsMaxAge != tt.wantAge {
				t.Errorf("keep %d max age %v, want %d %v", c.RevisionsKeep, c.RevisionsMaxAge, tt.wantKeep, tt.wantAge)
			}
		})
	}
}
