// Package telemetry is the services' tracing: an OpenTelemetry tracer
// provider configured from the standard OTEL_* environment, the W3C
// traceparent carried over HTTP (Handler, Transport) and with events
// (TraceParent, WithTraceParent), and the trace ID in every log line
// (Logger). Each service has its own Provider, so six services in one
// process still report six service names.
//
// Three modes: Off (OTEL_SDK_DISABLED=true: nothing at all), IDsOnly (the
// local default: every request gets a trace ID that is logged, returned in
// error bodies and propagated, but no span is recorded, so it costs an ID
// and a context value) and Export (spans recorded, sampled and sent to an
// OTLP collector or the console).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/carrental/carrental/svc/contract"
)

// Mode is how much tracing a Provider does.
type Mode string

const (
	Off     Mode = "off"      // no IDs, no spans
	IDsOnly Mode = "ids-only" // IDs made and propagated, nothing recorded
	Export  Mode = "export"   // spans recorded and exported
)

// Exporter names of OTEL_TRACES_EXPORTER.
const (
	ExporterOTLP    = "otlp"
	ExporterConsole = "console"
	ExporterNone    = "none"
)

// Config is what the environment says about tracing.
type Config struct {
	Disabled    bool
	ServiceName string
	Exporter    string // ExporterOTLP, ExporterConsole or ExporterNone
	Endpoint    string // OTLP base URL; empty: the protocol's default on localhost
	Protocol    string // contract.OTLPProtocolHTTP or contract.OTLPProtocolGRPC
	Sampler     sdktrace.Sampler
	// SpanExporter, when set, receives every span synchronously instead of
	// what Exporter says (tests: tracetest.InMemoryExporter).
	SpanExporter sdktrace.SpanExporter
}

// FromEnv reads the OTEL_* keys of contract for service.
func FromEnv(service contract.Service, getenv func(string) string) (Config, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := Config{ServiceName: string(service), Endpoint: get(contract.EnvOTLPEndpoint), Protocol: get(contract.EnvOTLPProtocol)}
	if v := get(contract.EnvOTelSDKDisabled); v != "" {
		off, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want true or false", contract.EnvOTelSDKDisabled, v)
		}
		cfg.Disabled = off
	}
	if v := get(contract.EnvOTelServiceName); v != "" {
		cfg.ServiceName = v
	}
	switch cfg.Protocol {
	case "":
		cfg.Protocol = contract.OTLPProtocolHTTP
	case contract.OTLPProtocolHTTP, contract.OTLPProtocolGRPC:
	default:
		return Config{}, fmt.Errorf("%s=%q: want %s or %s", contract.EnvOTLPProtocol, cfg.Protocol, contract.OTLPProtocolHTTP, contract.OTLPProtocolGRPC)
	}
	cfg.Exporter = get(contract.EnvTracesExporter)
	switch cfg.Exporter {
	case "":
		cfg.Exporter = ExporterNone
		if cfg.Endpoint != "" {
			cfg.Exporter = ExporterOTLP
		}
	case ExporterOTLP, ExporterConsole, ExporterNone:
	default:
		return Config{}, fmt.Errorf("%s=%q: want %s, %s or %s", contract.EnvTracesExporter, cfg.Exporter, ExporterOTLP, ExporterConsole, ExporterNone)
	}
	var err error
	if cfg.Sampler, err = samplerFromEnv(get(contract.EnvTracesSampler), get(contract.EnvTracesSamplerArg)); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func samplerFromEnv(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("%s=%q: want a ratio from 0 to 1", contract.EnvTracesSamplerArg, arg)
		}
		ratio = r
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case contract.SamplerParentBasedRatio:
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	}
	return nil, fmt.Errorf("%s=%q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or %s",
		contract.EnvTracesSampler, name, contract.SamplerParentBasedRatio)
}

// Provider is one service's tracing.
type Provider struct {
	mode     Mode
	tp       trace.TracerProvider
	tracer   trace.Tracer
	shutdown func(context.Context) error
}

// propagator is W3C trace context only: baggage is not used by the services.
var propagator = propagation.TraceContext{}

const instrumentation = "github.com/carrental/carrental/svc/platform/telemetry"

// New builds the provider cfg describes. Shut it down to flush what is
// buffered.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Disabled {
		tp := noop.NewTracerProvider()
		return &Provider{mode: Off, tp: tp, tracer: tp.Tracer(instrumentation), shutdown: func(context.Context) error { return nil }}, nil
	}
	res := resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName), attribute.String("service.namespace", "carrental"))
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	mode := Export
	switch {
	case cfg.SpanExporter != nil:
		opts = append(opts, sdktrace.WithSyncer(cfg.SpanExporter), sdktrace.WithSampler(orDefault(cfg.Sampler)))
	case cfg.Exporter == ExporterNone:
		// Every span is dropped at its start: the SDK still gives it a
		// trace and span ID (kept from the caller's traceparent), which is
		// all the logs, the error bodies and the propagation need.
		mode = IDsOnly
		opts = append(opts, sdktrace.WithSampler(sdktrace.NeverSample()))
	default:
		exp, err := newExporter(ctx, cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp), sdktrace.WithSampler(orDefault(cfg.Sampler)))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Provider{mode: mode, tp: tp, tracer: tp.Tracer(instrumentation), shutdown: tp.Shutdown}, nil
}

func orDefault(s sdktrace.Sampler) sdktrace.Sampler {
	if s == nil {
		return sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return s
}

func newExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	if cfg.Exporter == ExporterConsole {
		// stderr: stdout carries the JSON logs.
		return stdouttrace.New(stdouttrace.WithWriter(os.Stderr))
	}
	if cfg.Protocol == contract.OTLPProtocolGRPC {
		var opts []otlptracegrpc.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		// The generic endpoint is a base URL; the signal's path is added
		// to it (the OTLP exporter specification).
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(cfg.Endpoint, "/")+"/v1/traces"))
	}
	return otlptracehttp.New(ctx, opts...)
}

// Mode says what the provider does.
func (p *Provider) Mode() Mode { return p.mode }

// Tracer is the provider's tracer for the platform's spans.
func (p *Provider) Tracer() trace.Tracer { return p.tracer }

// TracerProvider is the OpenTelemetry provider underneath.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Shutdown flushes buffered spans to the exporter, waiting at most timeout.
func (p *Provider) Shutdown(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := p.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("telemetry: flush: %w", err)
	}
	return nil
}

// TraceParent is ctx's span context as a W3C traceparent value; empty
// when ctx has none.
func TraceParent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return c[contract.TraceParentHeader]
}

// WithTraceParent returns ctx with the remote span context traceparent
// names as parent (ctx unchanged when it names none).
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.MapCarrier{contract.TraceParentHeader: traceparent})
}

// Inject writes ctx's trace context into carrier; Extract reads it back.
func Inject(ctx context.Context, carrier propagation.TextMapCarrier) {
	propagator.Inject(ctx, carrier)
}

// Extract returns ctx with the remote span context carrier holds.
func Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	return propagator.Extract(ctx, carrier)
}

// TraceID is ctx's trace ID in hex; empty without one.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
