package obs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Tracing is the OpenTelemetry setup of a server. Its zero value, which
// Setup returns when tracing is off, has a nil Provider.
type Tracing struct {
	// Provider makes the tracers; nil when tracing is off.
	Provider trace.TracerProvider
	// Propagator reads and writes W3C traceparent, tracestate and baggage.
	Propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

// TracingEnabled reports whether the standard OTEL_* variables ask for
// traces: an OTLP endpoint is set, and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none turns them off.
func TracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// SetupTracing exports spans over OTLP/HTTP when TracingEnabled says so.
// The exporter reads its endpoint, headers, timeout and TLS settings from
// the standard OTEL_EXPORTER_OTLP_* variables, the sampler comes from
// OTEL_TRACES_SAMPLER, and the resource from OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES.
func SetupTracing(ctx context.Context, getenv func(string) string, version string) (*Tracing, error) {
	if !TracingEnabled(getenv) {
		return &Tracing{}, nil
	}
	proto := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if proto != "" && proto != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q: FireFlow exports OTLP over HTTP; use http/protobuf", proto)
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("configure the OTLP trace exporter: %w", err)
	}
	return NewTracing(ctx, sdktrace.NewBatchSpanProcessor(exporter), version)
}

// NewTracing builds the tracer provider around a span processor: the OTLP
// batcher in a server, an in-memory exporter in tests.
func NewTracing(ctx context.Context, processor sdktrace.SpanProcessor, version string) (*Tracing, error) {
	// Later options win: OTEL_SERVICE_NAME overrides the default name.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "fireflow"), attribute.String("service.version", version)),
		resource.WithFromEnv(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("describe the tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(processor), sdktrace.WithResource(res))
	return &Tracing{
		Provider:   tp,
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   tp.Shutdown,
	}, nil
}

// Tracer returns the named tracer, or nil when tracing is off, so that
// callers can skip span work entirely.
func (t *Tracing) Tracer(name string) trace.Tracer {
	if t.Provider == nil {
		return nil
	}
	return t.Provider.Tracer(name)
}

// Shutdown flushes the spans still buffered.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	if err := t.shutdown(ctx); err != nil {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}
