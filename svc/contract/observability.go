package contract

// Tracing is configured by OpenTelemetry's own environment keys, so any
// collector's documentation applies as is. The services read them; the
// Pulumi program sets them on every Deployment when the stack names a
// collector (carrental:otlpEndpoint, otlpProtocol, traceSampleRatio).
const (
	// EnvOTelSDKDisabled=true turns tracing off entirely: no spans, no trace
	// IDs in logs or error bodies, nothing propagated but what the caller sent.
	EnvOTelSDKDisabled = "OTEL_SDK_DISABLED"
	// EnvOTelServiceName overrides the service name spans carry (default:
	// the contract.Service).
	EnvOTelServiceName = "OTEL_SERVICE_NAME"
	// EnvOTLPEndpoint is the collector's base URL, e.g. http://collector:4318
	// (HTTP) or http://collector:4317 (gRPC). Empty, and no
	// EnvTracesExporter: trace IDs are made and propagated, nothing is
	// exported.
	EnvOTLPEndpoint = "OTEL_EXPORTER_OTLP_ENDPOINT"
	// EnvOTLPProtocol is OTLPProtocolHTTP (default) or OTLPProtocolGRPC.
	EnvOTLPProtocol = "OTEL_EXPORTER_OTLP_PROTOCOL"
	// EnvTracesExporter is otlp, console (spans as JSON on stderr) or none;
	// default otlp when EnvOTLPEndpoint is set, none otherwise.
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	// EnvTracesSampler and EnvTracesSamplerArg are the standard sampler
	// (default parentbased_always_on) and its ratio, for exported traces.
	EnvTracesSampler    = "OTEL_TRACES_SAMPLER"
	EnvTracesSamplerArg = "OTEL_TRACES_SAMPLER_ARG"
)

// The OTLP protocols the services speak.
const (
	OTLPProtocolHTTP = "http/protobuf"
	OTLPProtocolGRPC = "grpc"
)

// SamplerParentBasedRatio is the sampler the stack sets with a sample
// ratio: a trace sampled at its entry (the gateway) is sampled everywhere.
const SamplerParentBasedRatio = "parentbased_traceidratio"

// TraceParentHeader is the W3C trace context header, carried on HTTP calls
// and in JetStream message headers.
const TraceParentHeader = "traceparent"
