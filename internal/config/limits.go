package config

import (
	"flag"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Rate limit defaults: a person or a script working through the API stays
// far below 100 requests a second, and a burst of 500 lets a pipeline
// apply a few hundred rules at once without waiting.
const (
	DefaultRateLimit = 100
	DefaultRateBurst = 500
)

// defaultDrainDelay keeps a production server serving for 10 s after
// SIGTERM, longer than a load balancer or the Kubernetes endpoints
// controller takes to see readiness fall (the chart probes every 5 s and
// gives up after 2 failures). Development stops at once: no load balancer
// sends it traffic, and Ctrl-C should not wait.
func defaultDrainDelay(env string) time.Duration {
	if env == Production {
		return 10 * time.Second
	}
	return 0
}

// limitFlags declares the rate limit and CORS flags on fs, with defaults
// from the environment, and returns the errors of malformed variables.
func limitFlags(fs *flag.FlagSet, getenv func(string) string, c *Config) []error {
	var errs []error
	rateDef := float64(DefaultRateLimit)
	if v := getenv("FIREFLOW_RATE_LIMIT"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("FIREFLOW_RATE_LIMIT: %q is not a number of requests per second such as 100 (0 turns limiting off)", v))
		}
		rateDef = f
	}
	burstDef := DefaultRateBurst
	if v := getenv("FIREFLOW_RATE_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("FIREFLOW_RATE_BURST: %q is not a whole number of requests such as 500", v))
		}
		burstDef = n
	}
	fs.Float64Var(&c.RateLimit, "rate-limit", rateDef, "requests per second each caller (token subject, else client address) may make on /api/v1; 0 turns limiting off (FIREFLOW_RATE_LIMIT)")
	fs.IntVar(&c.RateBurst, "rate-burst", burstDef, "requests a caller may make at once before the rate applies (FIREFLOW_RATE_BURST)")
	c.CORSOrigins = splitList(getenv("FIREFLOW_CORS_ORIGINS"))
	fs.Func("cors-origins", "comma-separated browser origins allowed to call the API, such as https://ui.example.com, or * for any; empty turns CORS off (FIREFLOW_CORS_ORIGINS)", func(v string) error {
		c.CORSOrigins = splitList(v)
		return nil
	})
	return errs
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(v string) []string {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (c Config) checkLimits() []error {
	var errs []error
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("rate limit %v: use a number of requests per second, or 0 to turn limiting off", c.RateLimit))
	}
	if c.RateLimit > 0 && c.RateBurst < 1 {
		errs = append(errs, fmt.Errorf("rate burst %d: use at least 1", c.RateBurst))
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o, len(c.CORSOrigins)); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkOrigin accepts "*" alone, or an origin as a browser sends it:
// scheme://host[:port], with no path, query or trailing slash.
func checkOrigin(o string, count int) error {
	if o == "*" {
		if count > 1 {
			return fmt.Errorf("CORS origins: * allows every origin and cannot be listed with others")
		}
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("CORS origin %q: use scheme://host[:port], such as https://ui.example.com, with no path or trailing slash", o)
	}
	return nil
}
