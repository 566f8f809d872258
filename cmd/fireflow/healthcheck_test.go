package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func TestHealthcheckAgainstServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	defer s.wait(t)
	defer cancel()
	u, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(u.Host)

	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"port from FIREFLOW_ADDR", nil, map[string]string{"FIREFLOW_ADDR": ":" + port}},
		{"wildcard host from FIREFLOW_ADDR", nil, map[string]string{"FIREFLOW_ADDR": "0.0.0.0:" + port}},
		{"flag wins over FIREFLOW_ADDR", []string{"--addr", "127.0.0.1:" + port}, map[string]string{"FIREFLOW_ADDR": ":1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := append([]string{"healthcheck"}, tt.args...)
			if err := run(ctx, args, func(k string) string { return tt.env[k] }, &out, &errOut); err != nil {
				t.Fatalf("healthcheck failed: %v (stderr %q)", err, errOut.String())
			}
			if !strings.Contains(out.String(), "/healthz answered 200") {
				t.Errorf("output %q does not report the answer", out.String())
			}
		})
	}
}

func TestHealthcheckFails(t *testing.T) {
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	// A port that nothing listens on: bind one, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name, addr, want string
	}{
		{"unhealthy answer", strings.TrimPrefix(unhealthy.URL, "http://"), "503"},
		{"nothing listening", closed, "connection refused"},
		{"no port", "localhost", "missing port"},
		{"port zero", ":0", "no fixed port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), []string{"healthcheck", "--addr", tt.addr, "--timeout", "5s"}, func(string) string { return "" }, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestHealthzURL(t *testing.T) {
	tests := []struct{ addr, want string }{
		{":8080", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{"[::]:9000", "http://127.0.0.1:9000/healthz"},
		{"127.0.0.2:8080", "http://127.0.0.2:8080/healthz"},
		{"[::1]:8080", "http://[::1]:8080/healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, err := healthzURL(tt.addr)
			if err != nil || got != tt.want {
				t.Fatalf("healthzURL(%q) = %q, %v; want %q", tt.addr, got, err, tt.want)
			}
		})
	}
}
