package config

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLimitSettings(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantRate   float64
		wantBurst  int
		wantCORS   []string
		wantDrain  time.Duration
		wantDB     DBTimeouts
		wantReady  time.Duration
		wantErrHas string
	}{
		{name: "defaults", wantRate: DefaultRateLimit, wantBurst: DefaultRateBurst,
			wantDB: DBTimeouts{Acquire: 3 * time.Second, Statement: 5 * time.Second, IdleInTransaction: 5 * time.Second, TCP: 15 * time.Second}, wantReady: 2 * time.Second},
		{name: "production drains for 10s", env: map[string]string{"FIREFLOW_ENV": "production", "FIREFLOW_DATABASE_URL": "postgres://db/x"},
			wantRate: DefaultRateLimit, wantBurst: DefaultRateBurst, wantDrain: 10 * time.Second,
			wantDB: DBTimeouts{Acquire: 3 * time.Second, Statement: 5 * time.Second, IdleInTransaction: 5 * time.Second, TCP: 15 * time.Second}, wantReady: 2 * time.Second},
		{name: "limit off, CORS and timeouts from the environment",
			env: map[string]string{"FIREFLOW_RATE_LIMIT": "0", "FIREFLOW_CORS_ORIGINS": " https://ui.example.com , http://localhost:3000",
				"FIREFLOW_DB_ACQUIRE_TIMEOUT": "1s", "FIREFLOW_DB_STATEMENT_TIMEOUT": "0", "FIREFLOW_DB_IDLE_IN_TRANSACTION_TIMEOUT": "7s",
				"FIREFLOW_DB_TCP_TIMEOUT": "9s", "FIREFLOW_READY_TIMEOUT": "500ms", "FIREFLOW_DRAIN_DELAY": "3s"},
			wantBurst: DefaultRateBurst, wantCORS: []string{"https://ui.example.com", "http://localhost:3000"}, wantDrain: 3 * time.Second,
			wantDB: DBTimeouts{Acquire: time.Second, IdleInTransaction: 7 * time.Second, TCP: 9 * time.Second}, wantReady: 500 * time.Millisecond},
		{name: "flags win", env: map[string]string{"FIREFLOW_RATE_LIMIT": "5", "FIREFLOW_CORS_ORIGINS": "https://a.example"},
			args: []string{"--rate-limit", "20", "--rate-burst", "40", "--cors-origins", "*"}, wantRate: 20, wantBurst: 40, wantCORS: []string{"*"},
			wantDB: DBTimeouts{Acquire: 3 * time.Second, Statement: 5 * time.Second, IdleInTransaction: 5 * time.Second, TCP: 15 * time.Second}, wantReady: 2 * time.Second},
		{name: "bad rate", env: map[string]string{"FIREFLOW_RATE_LIMIT": "lots"}, wantErrHas: "FIREFLOW_RATE_LIMIT"},
		{name: "negative rate", args: []string{"--rate-limit", "-1"}, wantErrHas: "rate limit"},
		{name: "zero burst", args: []string{"--rate-burst", "0"}, wantErrHas: "rate burst"},
		{name: "wildcard with others", env: map[string]string{"FIREFLOW_CORS_ORIGINS": "*,https://a.example"}, wantErrHas: "cannot be listed with others"},
		{name: "origin with a path", env: map[string]string{"FIREFLOW_CORS_ORIGINS": "https://a.example/"}, wantErrHas: "CORS origin"},
		{name: "origin without scheme", env: map[string]string{"FIREFLOW_CORS_ORIGINS": "a.example"}, wantErrHas: "CORS origin"},
		{name: "negative timeout", env: map[string]string{"FIREFLOW_DB_STATEMENT_TIMEOUT": "-1s"}, wantErrHas: "negative"},
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
			if c.RateLimit != tt.wantRate || c.RateBurst != tt.wantBurst || !slices.Equal(c.CORSOrigins, tt.wantCORS) {
				t.Errorf("rate %v burst %d CORS %q, want %v %d %q", c.RateLimit, c.RateBurst, c.CORSOrigins, tt.wantRate, tt.wantBurst, tt.wantCORS)
			}
			if c.DrainDelay != tt.wantDrain || c.DB != tt.wantDB || c.ReadyTimeout != tt.wantReady {
				t.Errorf("drain %v DB %+v ready %v, want %v %+v %v", c.DrainDelay, c.DB, c.ReadyTimeout, tt.wantDrain, tt.wantDB, tt.wantReady)
			}
		})
	}
}
