package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrainKeepsServing sends SIGTERM (the end of run's context) to a
// server that has a client's keep-alive connection idle, as a load
// balancer's would be. During the drain delay /readyz answers 503 while
// the API still serves: the client's next POST is answered 201, on a
// fresh connection since the idle one was closed, and the answer says
// Connection: close. Then the server stops cleanly.
func TestDrainKeepsServing(t *testing.T) {
	ctx, sigterm := context.WithCancel(context.Background())
	defer sigterm()
	s := startServer(t, ctx, filepath.Join(t.TempDir(), "fireflow.db"), "--drain-delay", "3s")

	var dials atomic.Int32
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	keepAlive := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dialer.DialContext(ctx, network, addr)
		},
	}}
	send := func(method, path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		req.Header.Set("Content-Type", "application/json")
		res, err := keepAlive.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		res.Body.Close()
		return res
	}
	if res := send("GET", "/api/v1/firewalls", ""); res.StatusCode != http.StatusOK || res.Close {
		t.Fatalf("before SIGTERM: %d, close %v; want 200 on a kept-alive connection", res.StatusCode, res.Close)
	}

	sigterm()
	s.awaitMetric(t, "fireflow_ready 0")
	if code, _ := s.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the drain: %d, want 503", code)
	}
	res := send("POST", "/api/v1/firewalls", `{"name":"during-the-drain"}`)
	if res.StatusCode != http.StatusCreated {
		t.Errorf("a POST from the keep-alive client during the drain: %d, want 201", res.StatusCode)
	}
	if !res.Close {
		t.Error("an answer during the drain did not say Connection: close")
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("the client dialled %d times, want 2: its idle connection closed at SIGTERM, and it reconnected", n)
	}
	s.wait(t)
}
