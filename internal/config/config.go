// Package config reads FireFlow's configuration from flags and FIREFLOW_*
// environment variables, checks it, and presents it with secrets masked.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The environments FireFlow knows.
const (
	Development = "development"
	Production  = "production"
)

// DefaultDatabaseURL is the embedded SQLite database of development.
const DefaultDatabaseURL = "sqlite:./data/fireflow.db"

// Config is the effective configuration of a server.
type Config struct {
	Env             string
	Addr            string
	MetricsAddr     string
	DatabaseURL     string
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
	// DrainDelay is how long the server keeps serving after readiness turns
	// false, so that load balancers stop sending traffic first.
	DrainDelay   time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration

	// JWTSecret is the HS256 key; with no secret and no JWKS URL,
	// development uses the secret in DevSecretFile, creating it if needed.
	JWTSecret     string
	JWKSURL       string
	JWTIssuer     string
	JWTAudience   string
	DevSecretFile string

	// Pprof serves /debug/pprof/ on the metrics listener.
	Pprof bool

	// RateLimit is the sustained requests per second each caller (token
	// subject, else client address) may make on /api/v1; 0 turns limiting
	// off. RateBurst is how many it may make at once.
	RateLimit float64
	RateBurst int
	// CORSOrigins lists the browser origins allowed to call the API from
	// another site ("*" for any); empty turns CORS off.
	CORSOrigins []string

	// ReadyTimeout bounds one /readyz check, so that a frozen database
	// makes the probe fail rather than hang.
	ReadyTimeout time.Duration
	// DB bounds every PostgreSQL call (ignored for SQLite).
	DB DBTimeouts
	// SentryDSN turns error reporting to Sentry on.
	SentryDSN string
	// RevisionsKeep and RevisionsMaxAge bound the revision history kept
	// per firewall, by count and by age; 0 keeps all.
	RevisionsKeep   int
	RevisionsMaxAge time.Duration
}

// DBTimeouts bound the calls to PostgreSQL, so that a database that stops
// answering turns into 503 answers within a known time instead of hung
// requests. Zero turns a bound off.
type DBTimeouts struct {
	// Acquire bounds the wait for a pooled connection.
	Acquire time.Duration
	// Statement is PostgreSQL's statement_timeout and lock_timeout; the
	// client also gives up on a statement a second after it.
	Statement time.Duration
	// IdleInTransaction is PostgreSQL's idle_in_transaction_session_timeout.
	IdleInTransaction time.Duration
	// TCP is the TCP user timeout of connections, and the time after which
	// keepalive probes declare a silent peer dead.
	TCP time.Duration
}

// Production reports whether the server runs in production mode.
func (c Config) Production() bool { return c.Env == Production }

// Load parses args (the flags after the subcommand) over the environment,
// which is read through getenv. Flags win over variables, variables over
// defaults. The usage text goes to usage.
func Load(name string, args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usage)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var c Config
	var level string
	fs.StringVar(&c.Env, "env", env("FIREFLOW_ENV", Development), "environment: development or production (FIREFLOW_ENV)")
	fs.StringVar(&c.Addr, "addr", env("FIREFLOW_ADDR", ":8080"), "API listen address (FIREFLOW_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("FIREFLOW_METRICS_ADDR", ":9464"), "metrics listen address (FIREFLOW_METRICS_ADDR)")
	fs.StringVar(&c.DatabaseURL, "database-url", getenv("FIREFLOW_DATABASE_URL"), "sqlite:PATH or postgres://... (FIREFLOW_DATABASE_URL; default "+DefaultDatabaseURL+" in development)")
	fs.StringVar(&level, "log-level", env("FIREFLOW_LOG_LEVEL", "info"), "debug, info, warn or error (FIREFLOW_LOG_LEVEL)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", getenv("FIREFLOW_JWT_SECRET"), "HS256 key of at least 32 bytes (FIREFLOW_JWT_SECRET; prefer the variable, flags show in ps)")
	fs.StringVar(&c.JWKSURL, "jwt-jwks-url", getenv("FIREFLOW_JWT_JWKS_URL"), "JWKS URL of the RS256/ES256/EdDSA signing keys (FIREFLOW_JWT_JWKS_URL)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", getenv("FIREFLOW_JWT_ISSUER"), "required iss claim, if set (FIREFLOW_JWT_ISSUER)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", getenv("FIREFLOW_JWT_AUDIENCE"), "required aud claim, if set (FIREFLOW_JWT_AUDIENCE)")
	fs.StringVar(&c.DevSecretFile, "dev-secret-file", env("FIREFLOW_DEV_SECRET_FILE", "./data/dev-secret"), "development only: where the generated HS256 secret lives (FIREFLOW_DEV_SECRET_FILE)")
	fs.StringVar(&c.SentryDSN, "sentry-dsn", getenv("SENTRY_DSN"), "report panics and 5xx answers to this Sentry DSN (SENTRY_DSN)")
	pprofDefault := false
	if v := getenv("FIREFLOW_PPROF"); v != "" {
		var err error
		if pprofDefault, err = strconv.ParseBool(v); err != nil {
			return Config{}, fmt.Errorf("configuration: FIREFLOW_PPROF: %q is not true or false", v)
		}
	}
	fs.BoolVar(&c.Pprof, "pprof", pprofDefault, "serve /debug/pprof/ on the metrics listener (FIREFLOW_PPROF)")
	durations := []struct {
		p         *time.Duration
		flag, key string
		def       time.Duration
		help      string
	}{
		{&c.ShutdownTimeout, "shutdown-timeout", "FIREFLOW_SHUTDOWN_TIMEOUT", 30 * time.Second, "how long in-flight requests may take to finish on SIGTERM"},
		{&c.DrainDelay, "drain-delay", "FIREFLOW_DRAIN_DELAY", defaultDrainDelay(env("FIREFLOW_ENV", Development)), "how long to keep serving after readiness turns false on SIGTERM, with keep-alive off (default 10s in production, 0s in development)"},
		{&c.ReadTimeout, "read-timeout", "FIREFLOW_READ_TIMEOUT", 30 * time.Second, "HTTP read timeout"},
		{&c.WriteTimeout, "write-timeout", "FIREFLOW_WRITE_TIMEOUT", 60 * time.Second, "HTTP write timeout"},
		{&c.IdleTimeout, "idle-timeout", "FIREFLOW_IDLE_TIMEOUT", 120 * time.Second, "HTTP keep-alive idle timeout"},
		{&c.ReadyTimeout, "ready-timeout", "FIREFLOW_READY_TIMEOUT", 2 * time.Second, "how long one /readyz check may take"},
		{&c.DB.Acquire, "db-acquire-timeout", "FIREFLOW_DB_ACQUIRE_TIMEOUT", 3 * time.Second, "PostgreSQL: how long to wait for a pooled connection; 0 waits as long as the request"},
		{&c.DB.Statement, "db-statement-timeout", "FIREFLOW_DB_STATEMENT_TIMEOUT", 5 * time.Second, "PostgreSQL: statement_timeout and lock_timeout; the client gives up a second later; 0 turns both off"},
		{&c.DB.IdleInTransaction, "db-idle-in-transaction-timeout", "FIREFLOW_DB_IDLE_IN_TRANSACTION_TIMEOUT", 5 * time.Second, "PostgreSQL: idle_in_transaction_session_timeout; 0 turns it off"},
		{&c.DB.TCP, "db-tcp-timeout", "FIREFLOW_DB_TCP_TIMEOUT", 15 * time.Second, "PostgreSQL: TCP user timeout and keepalive of connections; 0 leaves the system defaults"},
	}
	var errs []error
	for _, d := range durations {
		def := d.def
		if v := getenv(d.key); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 30s", d.key, v))
			}
			def = parsed
		}
		fs.DurationVar(d.p, d.flag, def, d.help+" ("+d.key+")")
	}
	errs = append(errs, limitFlags(fs, getenv, &c)...)
	errs = append(errs, revisionFlags(fs, getenv, &c)...)
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		errs = append(errs, fmt.Errorf("log level %q: use debug, info, warn or error", level))
	}
	errs = append(errs, c.check()...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("configuration: %w", err)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL
	}
	return c, nil
}

func (c Config) check() []error {
	var errs []error
	if c.Env != Development && c.Env != Production {
		errs = append(errs, fmt.Errorf("environment %q: use development or production", c.Env))
	}
	if c.Env == Production && c.DatabaseURL == "" {
		errs = append(errs, errors.New("production needs an explicit FIREFLOW_DATABASE_URL"))
	}
	if c.DatabaseURL != "" {
		if _, _, err := ParseDatabaseURL(c.DatabaseURL); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.checkLimits()...)
	errs = append(errs, c.checkRevisions()...)
	for _, d := range []time.Duration{c.ShutdownTimeout, c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.DrainDelay,
		c.ReadyTimeout, c.DB.Acquire, c.DB.Statement, c.DB.IdleInTransaction, c.DB.TCP} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("durations must not be negative, got %s", d))
		}
	}
	return errs
}

// ParseDatabaseURL splits a database URL into its driver ("sqlite" or
// "postgres") and the driver's own connection string.
func ParseDatabaseURL(raw string) (driver, dsn string, err error) {
	switch {
	case strings.HasPrefix(raw, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "//")
		if path == "" {
			return "", "", errors.New("database URL: sqlite: needs a file path, as in sqlite:./data/fireflow.db")
		}
		return "sqlite", path, nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return "postgres", raw, nil
	default:
		return "", "", fmt.Errorf("database URL %q: use sqlite:PATH or postgres://HOST/DB", MaskURL(raw))
	}
}

// MaskURL hides the password of a URL, so that it can be logged.
func MaskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// LogValue presents the configuration for the start-up log, secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("env", c.Env),
		slog.String("addr", c.Addr),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.String("database_url", MaskURL(c.DatabaseURL)),
		slog.String("log_level", c.LogLevel.String()),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("drain_delay", c.DrainDelay),
		slog.Duration("read_timeout", c.ReadTimeout),
		slog.Duration("write_timeout", c.WriteTimeout),
		slog.Duration("idle_timeout", c.IdleTimeout),
		slog.String("jwt_secret", maskSecret(c.JWTSecret)),
		slog.String("jwt_jwks_url", MaskURL(c.JWKSURL)),
		slog.String("jwt_issuer", c.JWTIssuer),
		slog.String("jwt_audience", c.JWTAudience),
		slog.Bool("pprof", c.Pprof),
		slog.Float64("rate_limit", c.RateLimit),
		slog.Int("rate_burst", c.RateBurst),
		slog.String("cors_origins", strings.Join(c.CORSOrigins, ",")),
		slog.Duration("ready_timeout", c.ReadyTimeout),
		slog.Duration("db_acquire_timeout", c.DB.Acquire),
		slog.Duration("db_statement_timeout", c.DB.Statement),
		slog.Duration("db_idle_in_transaction_timeout", c.DB.IdleInTransaction),
		slog.Duration("db_tcp_timeout", c.DB.TCP),
		slog.String("sentry_dsn", maskSecret(c.SentryDSN)),
	)
}

// maskSecret says whether a secret is set, and how long it is, never what it is.
func maskSecret(secret string) string {
	if secret == "" {
		return "unset"
	}
	return fmt.Sprintf("set (%d bytes)", len(secret))
}
