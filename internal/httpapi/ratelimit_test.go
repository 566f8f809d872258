package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fireflow/fireflow/internal/auth"
	"github.com/fireflow/fireflow/internal/service"
	"github.com/fireflow/fireflow/internal/store/sqlite"
)

// countingObserver counts the 429 answers by what told the caller apart.
type countingObserver struct {
	nopObserver
	mu      sync.Mutex
	limited map[string]int
}

func (o *countingObserver) RateLimited(by string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.limited[by]++
}

func (o *countingObserver) count(by string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.limited[by]
}

// newOptionsServer serves the API with opts (Auth and Ready filled in)
// over a fresh migrated SQLite file on 127.0.0.1.
func newOptionsServer(t *testing.T, opts Options) string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fireflow.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	verifier, err := auth.NewVerifier(ctx, auth.Config{HS256Secret: testSecret})
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	opts.Auth, opts.Ready = verifier, db.Ready
	srv := httptest.NewServer(New(service.New(db), opts))
	t.Cleanup(func() {
		srv.Close()
		db.Close()
	})
	return srv.URL
}

// clientFrom returns a client whose connections come from the loopback
// address ip (any of 127.0.0.0/8), so that a test can be many clients.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// get sends a GET with an optional bearer token and returns the answer,
// its body read.
func get(t *testing.T, c *http.Client, url, token string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return res, body
}

var rateLimitHeader = regexp.MustCompile(`^"default";r=(\d+);t=(\d+)$`)

// checkTooMany checks that res is a 429 problem with Retry-After and the
// RateLimit headers of a bucket of burst requests.
func checkTooMany(t *testing.T, res *http.Response, body []byte, burst int) {
	t.Helper()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %s %s, want 429 application/problem+json", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var p Problem
	if err := json.Unmarshal(body, &p); err != nil || p.Status != http.StatusTooManyRequests || p.Detail == "" || p.RequestID == "" {
		t.Errorf("problem %s (%v), want status 429, a detail and a request id", body, err)
	}
	if n, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want whole seconds, at least 1", res.Header.Get("Retry-After"))
	}
	if got, want := res.Header.Get("RateLimit-Policy"), fmt.Sprintf(`"default";q=%d;w=`, burst); len(got) <= len(want) || got[:len(want)] != want {
		t.Errorf("RateLimit-Policy %q, want %s<seconds>", got, want)
	}
	if m := rateLimitHeader.FindStringSubmatch(res.Header.Get("RateLimit")); m == nil || m[1] != "0" {
		t.Errorf("RateLimit %q, want \"default\";r=0;t=<seconds>", res.Header.Get("RateLimit"))
	}
}

// TestRateLimit runs the limit over real HTTP: each subject has its own
// bucket, requests without a valid token share their address's, the 429
// is a problem with Retry-After and the RateLimit headers, and each 429
// is counted.
func TestRateLimit(t *testing.T) {
	const burst = 3
	// A rate this low refills nothing while the test runs.
	obs := &countingObserver{limited: map[string]int{}}
	base := newOptionsServer(t, Options{RateLimit: RateLimit{Rate: 0.001, Burst: burst}, Observer: obs})
	list := base + "/api/v1/firewalls"
	alice, bob := mintToken(t, "alice", auth.Viewer), mintToken(t, "bob", auth.Viewer)

	t.Run("per subject", func(t *testing.T) {
		c := clientFrom("127.0.0.1")
		for i := range burst {
			res, body := get(t, c, list, alice)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("request %d: %d %s", i+1, res.StatusCode, body)
			}
			if m := rateLimitHeader.FindStringSubmatch(res.Header.Get("RateLimit")); m == nil || m[1] != strconv.Itoa(burst-1-i) {
				t.Errorf("request %d: RateLimit %q, want r=%d", i+1, res.Header.Get("RateLimit"), burst-1-i)
			}
		}
		res, body := get(t, c, list, alice)
		checkTooMany(t, res, body, burst)
		if res, body := get(t, c, list, bob); res.StatusCode != http.StatusOK {
			t.Errorf("bob, from the same address: %d %s, want 200 from his own bucket", res.StatusCode, body)
		}
		if got := obs.count("subject"); got != 1 {
			t.Errorf("counted %d refusals by subject, want 1", got)
		}
	})

	t.Run("without a valid token, per address", func(t *testing.T) {
		c := clientFrom("127.0.0.2")
		for i, tok := range []string{"", "not-a-token", alice + "x"} {
			if res, body := get(t, c, list, tok); res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("request %d: %d %s, want 401", i+1, res.StatusCode, body)
			}
		}
		res, body := get(t, c, list, "")
		checkTooMany(t, res, body, burst)
		if res, _ := get(t, clientFrom("127.0.0.3"), list, ""); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("another address: %d, want 401 from its own bucket", res.StatusCode)
		}
		if got := obs.count("address"); got != 1 {
			t.Errorf("counted %d refusals by address, want 1", got)
		}
		// A valid token is its subject's, wherever it comes from.
		carol := mintToken(t, "carol", auth.Viewer)
		if res, body := get(t, c, list, carol); res.StatusCode != http.StatusOK {
			t.Errorf("a valid token from the spent address: %d %s, want 200", res.StatusCode, body)
		}
	})

	t.Run("public endpoints are not limited", func(t *testing.T) {
		c := clientFrom("127.0.0.2") // the address spent above
		for range burst + 2 {
			res, _ := get(t, c, base+"/healthz", "")
			if res.StatusCode != http.StatusOK || res.Header.Get("RateLimit") != "" {
				t.Fatalf("/healthz: %d RateLimit %q, want 200 without RateLimit", res.StatusCode, res.Header.Get("RateLimit"))
			}
		}
	})
}

// TestRateLimitOff checks that a zero rate sends neither limits nor headers.
func TestRateLimitOff(t *testing.T) {
	base := newOptionsServer(t, Options{})
	tok := mintToken(t, "alice", auth.Viewer)
	c := clientFrom("127.0.0.1")
	for i := range 20 {
		res, body := get(t, c, base+"/api/v1/firewalls", tok)
		if res.StatusCode != http.StatusOK || res.Header.Get("RateLimit") != "" || res.Header.Get("RateLimit-Policy") != "" {
			t.Fatalf("request %d: %d %s, RateLimit %q: want 200 and no RateLimit headers", i+1, res.StatusCode, body, res.Header.Get("RateLimit"))
		}
	}
}

// TestLimiterBoundsCallers floods the limiter with 10,000 callers, as
// many addresses would, and checks that it never tracks more than its bound.
func TestLimiterBoundsCallers(t *testing.T) {
	const maxCallers = 100
	l := newLimiter(RateLimit{Rate: 1, Burst: 5, MaxCallers: maxCallers})
	now := time.Unix(1_000_000, 0)
	for i := range 10_000 {
		if d := l.take(fmt.Sprintf("addr:10.%d.%d.%d", i>>16, (i>>8)&255, i&255), now); !d.allowed {
			t.Fatalf("caller %d was refused its first request", i)
		}
		if n := l.size(); n > maxCallers {
			t.Fatalf("after %d callers the limiter tracks %d, want at most %d", i+1, n, maxCallers)
		}
	}
}

// TestLimiterBuckets checks the bucket arithmetic at given instants:
// spending, refilling, the headers' numbers, and which buckets eviction
// drops first.
func TestLimiterBuckets(t *testing.T) {
	l := newLimiter(RateLimit{Rate: 2, Burst: 4, MaxCallers: 4})
	if l.policy != `"default";q=4;w=2` {
		t.Errorf("policy %s, want \"default\";q=4;w=2", l.policy)
	}
	t0 := time.Unix(1_000_000, 0)
	tests := []struct {
		name      string
		key       string
		at        time.Duration
		allowed   bool
		remaining int
	}{
		{"first of four", "a", 0, true, 3},
		{"second", "a", 0, true, 2},
		{"third", "a", 0, true, 1},
		{"fourth", "a", 0, true, 0},
		{"fifth refused", "a", 0, false, 0},
		{"half a second refills one", "a", 500 * time.Millisecond, true, 0},
		{"another caller is full", "b", 500 * time.Millisecond, true, 3},
		{"two seconds refill all", "a", 3 * time.Second, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := l.take(tt.key, t0.Add(tt.at))
			if d.allowed != tt.allowed || d.remaining != tt.remaining {
				t.Fatalf("allowed %v remaining %d, want %v %d", d.allowed, d.remaining, tt.allowed, tt.remaining)
			}
			if !d.allowed && (d.retry <= 0 || d.retry > time.Second) {
				t.Errorf("retry after %v, want up to half a second", d.retry)
			}
		})
	}
	t.Run("eviction drops refilled buckets first", func(t *testing.T) {
		l := newLimiter(RateLimit{Rate: 1, Burst: 10, MaxCallers: 4})
		l.take("idle", t0)
		l.take("idle too", t0)
		for range 10 {
			l.take("busy", t0.Add(9*time.Second))
		}
		l.take("other", t0.Add(9*time.Second))
		l.take("new", t0.Add(10*time.Second)) // the table is full: "idle" has refilled
		if _, ok := l.buckets["idle"]; ok {
			t.Error("the refilled bucket was kept")
		}
		if len(l.buckets) != 3 {
			t.Errorf("%d buckets after the sweep, want 3: busy, other and new", len(l.buckets))
		}
		if _, ok := l.buckets["busy"]; !ok {
			t.Error("the spent bucket was dropped while a refilled one could go")
		}
	})
}

// BenchmarkLimiterTake measures the limiter's cost per request, with one
// busy caller and with callers spread over a full table.
func BenchmarkLimiterTake(b *testing.B) {
	now := time.Unix(1_000_000, 0)
	b.Run("one caller", func(b *testing.B) {
		l := newLimiter(RateLimit{Rate: 1e9, Burst: 1e9})
		for b.Loop() {
			l.take("sub:alice", now)
		}
	})
	b.Run("many callers", func(b *testing.B) {
		l := newLimiter(RateLimit{Rate: 100, Burst: 500, MaxCallers: 10_000})
		keys := make([]string, 50_000)
		for i := range keys {
			keys[i] = fmt.Sprintf("addr:10.0.%d.%d", i>>8, i&255)
		}
		i := 0
		for b.Loop() {
			l.take(keys[i%len(keys)], now)
			i++
		}
	})
}
