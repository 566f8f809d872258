package auth

import (
	"strings"
	"sync"
	"time"
)

// Cache bounds. Only verified tokens are cached, so an attacker cannot fill
// the cache with junk; the byte bound caps memory even if every cached token
// were MaxTokenBytes long.
const (
	cacheMaxEntries = 10_000
	cacheMaxBytes   = 16 << 20
	// cacheReuse bounds how long a verified token is reused without being
	// verified again, so that removing a key from the JWKS takes effect within
	// this time even for tokens that were already seen.
	cacheReuse = time.Minute
)

// cacheEntry is a verified token's principal and the instant until which it may be reused.
type cacheEntry struct {
	principal Principal
	until     time.Time
}

// tokenCache maps verified token strings to their principals. It exists
// because re-verifying costs microseconds per request (HMAC plus two JSON
// decodes), while a map lookup costs tens of nanoseconds.
type tokenCache struct {
	mu    sync.RWMutex
	m     map[string]cacheEntry
	bytes int // sum of key lengths, for the memory bound
}

// newTokenCache returns an empty cache.
func newTokenCache() *tokenCache {
	return &tokenCache{m: make(map[string]cacheEntry)}
}

// get returns the principal for token if it was verified and may still be reused at now.
func (c *tokenCache) get(token string, now time.Time) (Principal, bool) {
	c.mu.RLock()
	e, ok := c.m[token]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return Principal{}, false
	}
	return e.principal, true
}

// put records a verified token. When a bound is reached it first drops the
// stale entries, and if that does not free at least half of the room it drops
// everything: at worst that costs a re-verification per token, and it keeps
// each sweep paid for by at least cacheMaxEntries/2 insertions.
func (c *tokenCache) put(token string, p Principal, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[token]; ok {
		old.until = until
		c.m[token] = old
		return
	}
	if len(c.m) >= cacheMaxEntries || c.bytes+len(token) > cacheMaxBytes {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
				c.bytes -= len(k)
			}
		}
		if len(c.m) > cacheMaxEntries/2 || c.bytes > cacheMaxBytes/2 {
			clear(c.m)
			c.bytes = 0
		}
	}
	// Clone so that the cache does not pin whatever larger buffer the
	// caller's string may be a slice of.
	c.m[strings.Clone(token)] = cacheEntry{principal: p, until: until}
	c.bytes += len(token)
}

// len returns the number of entries, for tests.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
