package auth

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestCacheReuseEndsAtExpiry(t *testing.T) {
	t.Parallel()
	clock := newTestClock(time.Now().Truncate(time.Second))
	v := mustVerifier(t, Config{HS256Secret: []byte(testSecret), Now: clock.Now})
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", jwt.MapClaims{
		"sub": "alice", "roles": []string{"admin"}, "exp": clock.At(20 * time.Second).Unix(),
	})
	steps := []struct {
		advance time.Duration
		want    Reason // "" means accepted
		cached  int
	}{
		{0, "", 1},
		{15 * time.Second, "", 1}, // reused
		{10 * time.Second, "", 1}, // 5s past exp: not reused, re-verified within the leeway
		{30 * time.Second, ReasonExpired, 1},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		p, err := v.Verify(t.Context(), tok)
		if s.want == "" {
			if err != nil || p.Role != Admin {
				t.Fatalf("step %d: %+v, %v", i, p, err)
			}
		} else {
			checkRejected(t, p, err, tok, s.want)
		}
		if got := v.cache.len(); got != s.cached {
			t.Fatalf("step %d: cache holds %d entries, want %d", i, got, s.cached)
		}
	}
}

func TestCacheReturnsCopies(t *testing.T) {
	t.Parallel()
	clock := newTestClock(time.Now())
	v := mustVerifier(t, Config{HS256Secret: []byte(testSecret), Now: clock.Now})
	tok, err := Mint([]byte(testSecret), "alice", []string{"viewer"}, time.Hour, "", "", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p, err := v.Verify(t.Context(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.Roles[0] != "viewer" {
			t.Fatalf("call %d: roles = %q; a caller's change leaked into the cache", i, p.Roles)
		}
		p.Roles[0] = "admin"
	}
}

func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newTokenCache()
	p := Principal{Subject: "s", Roles: []string{"viewer"}, Role: Viewer}
	for i := range 3 * cacheMaxEntries {
		c.put("tok-"+strconv.Itoa(i), p, now.Add(time.Minute), now)
		if n := c.len(); n > cacheMaxEntries {
			t.Fatalf("after %d puts the cache holds %d entries", i+1, n)
		}
	}
	// Stale entries go first: with half the room stale, a full cache keeps the live half.
	c = newTokenCache()
	for i := range cacheMaxEntries {
		until := now.Add(time.Minute)
		if i%2 == 0 {
			until = now.Add(time.Second)
		}
		c.put("tok-"+strconv.Itoa(i), p, until, now)
	}
	later := now.Add(2 * time.Second)
	c.put("one-more", p, later.Add(time.Minute), later)
	if got, want := c.len(), cacheMaxEntries/2+1; got != want {
		t.Fatalf("after sweeping stale entries the cache holds %d, want %d", got, want)
	}
	if _, ok := c.get("tok-1", later); !ok {
		t.Fatal("a live entry was dropped by the sweep")
	}
	// The byte bound holds too.
	c = newTokenCache()
	big := string(make([]byte, MaxTokenBytes))
	for i := range 3 * cacheMaxBytes / MaxTokenBytes {
		c.put(strconv.Itoa(i)+big[len(strconv.Itoa(i)):], p, now.Add(time.Minute), now)
		if c.bytes > cacheMaxBytes {
			t.Fatalf("after %d puts the cache holds %d bytes", i+1, c.bytes)
		}
	}
	// Entries already stale are not stored at all.
	c = newTokenCache()
	c.put("stale", p, now, now)
	if c.len() != 0 {
		t.Fatal("an entry with no reuse time left was stored")
	}
}

func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	toks := make([]string, 40)
	for i := range toks {
		toks[i] = sign(t, jwt.SigningMethodHS256, []byte(testSecret), "", f.claims(map[string]any{"jti": strconv.Itoa(i)}))
	}
	toks = append(toks, sign(t, jwt.SigningMethodES256, f.keys.ec, "ec-1", f.claims(nil)), "junk")
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(g+i)%len(toks)]
				p, err := f.both.Verify(t.Context(), tok)
				if tok == "junk" {
					if err == nil {
						t.Error("junk accepted")
					}
					continue
				}
				if err != nil || p.Role != Editor {
					t.Errorf("Verify: %+v, %v", p, err)
					return
				}
				if i%7 == 0 {
					p.Roles = append(p.Roles[:0], "admin")
				}
			}
		})
	}
	wg.Wait()
}
