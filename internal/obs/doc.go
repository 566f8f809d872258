// Package obs provides FireFlow's observability: the slog logger, the
// Prometheus registry with its collectors and the metrics listener's
// handler, OpenTelemetry tracing configured from the standard OTEL_*
// variables, and error reporting to Sentry. It knows nothing of HTTP
// routing or storage: cmd/fireflow wires it to both.
package obs
