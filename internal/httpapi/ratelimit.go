package httpapi

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/time/rate"
)

// RateLimit configures the token buckets that limit each caller of
// /api/v1: a caller is the subject of a verified token, else the client's
// address. A request with a token that does not verify counts against the
// address, so that guessing tokens is limited as well, while callers with
// valid tokens behind one proxy never share a bucket.
type RateLimit struct {
	// Rate is the sustained requests per second of one caller; 0 turns
	// limiting off.
	Rate float64
	// Burst is how many requests a caller may make at once.
	Burst int
	// MaxCallers bounds how many callers are tracked; 0 means
	// DefaultMaxCallers.
	MaxCallers int
}

// DefaultMaxCallers bounds the limiter's memory (about 200 bytes a caller)
// when a flood comes from many addresses.
const DefaultMaxCallers = 100_000

// rateLimitPolicy names the one policy in the RateLimit headers.
const rateLimitPolicy = `"default"`

// limiter holds a token bucket per caller. Buckets that have refilled
// completely are dropped when the table is full, which changes nothing
// for their callers: a new bucket starts full too.
type limiter struct {
	rate   rate.Limit
	burst  int
	max    int
	refill time.Duration // how long an empty bucket takes to fill up
	policy string        // the RateLimit-Policy header

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time // the last request, to tell a full bucket from a busy one
}

// newLimiter returns nil when cfg turns limiting off.
func newLimiter(cfg RateLimit) *limiter {
	if cfg.Rate <= 0 {
		return nil
	}
	burst := max(cfg.Burst, 1)
	maxCallers := cfg.MaxCallers
	if maxCallers <= 0 {
		maxCallers = DefaultMaxCallers
	}
	refill := time.Duration(float64(burst) / cfg.Rate * float64(time.Second))
	return &limiter{
		rate: rate.Limit(cfg.Rate), burst: burst, max: maxCallers, refill: refill,
		// A full bucket holds burst requests and refills in refill: the
		// draft's quota q over window w.
		policy:  fmt.Sprintf("%s;q=%d;w=%d", rateLimitPolicy, burst, ceilSeconds(refill)),
		buckets: make(map[string]*bucket),
	}
}

// decision is the outcome of one request's check.
type decision struct {
	allowed   bool
	remaining int           // whole requests left in the bucket
	reset     time.Duration // until the bucket is full again
	retry     time.Duration // until the next request is allowed, when refused
}

// take spends one request of key's bucket at now, if it has one left.
func (l *limiter) take(key string, now time.Time) decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{lim: rate.NewLimiter(l.rate, l.burst)}
		l.buckets[key] = b
	}
	b.last = now
	d := decision{allowed: b.lim.AllowN(now, 1)}
	tokens := b.lim.TokensAt(now)
	d.remaining = max(int(math.Floor(tokens)), 0)
	d.reset = time.Duration((float64(l.burst) - tokens) / float64(l.rate) * float64(time.Second))
	if !d.allowed {
		d.retry = time.Duration((1 - tokens) / float64(l.rate) * float64(time.Second))
	}
	return d
}

// evict drops the buckets that have refilled completely, and if that does
// not free half the table, half of all buckets: a flood of new addresses
// then resets some callers' buckets to full, but cannot grow memory.
// Each sweep is paid for by max/2 insertions at least.
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.refill {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) <= l.max/2 {
			break
		}
		delete(l.buckets, k) // map order is random: no caller is picked on
	}
}

// size returns how many callers are tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// limitRate charges the request to subject, or to the client address when
// subject is "", sets the RateLimit headers, and answers 429 when the
// caller has no request left. It reports whether the request may go on.
// It is called by authenticate, which alone knows whether the token
// verified.
func (a *api) limitRate(ctx huma.Context, subject string) bool {
	if a.limiter == nil {
		return true
	}
	key, by := "sub:"+subject, "subject"
	if subject == "" {
		key, by = "addr:"+clientAddr(ctx.RemoteAddr()), "address"
	}
	d := a.limiter.take(key, time.Now())
	ctx.SetHeader("RateLimit-Policy", a.limiter.policy)
	ctx.SetHeader("RateLimit", fmt.Sprintf("%s;r=%d;t=%d", rateLimitPolicy, d.remaining, ceilSeconds(d.reset)))
	if d.allowed {
		return true
	}
	a.opts.Observer.RateLimited(by)
	retry := max(ceilSeconds(d.retry), 1)
	ctx.SetHeader("Retry-After", strconv.Itoa(retry))
	_ = huma.WriteErr(a.humaAPI, ctx, http.StatusTooManyRequests,
		fmt.Sprintf("too many requests: this caller may make %d at once and %g a second; retry after %d s",
			a.limiter.burst, float64(a.limiter.rate), retry))
	return false
}

// clientAddr is the host part of a RemoteAddr: every port of one client
// shares its bucket. X-Forwarded-For is not trusted, since any client
// can set it; behind a proxy, the callers without a valid token share the
// proxy's bucket, and those with one have their own.
func clientAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// ceilSeconds rounds d up to whole seconds, as the headers count.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}
