package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/telemetry"
)

func TestFromEnv(t *testing.T) {
	cases := []struct {
		name     string
		env      map[string]string
		mode     telemetry.Mode
		exporter string
		protocol string
		service  string
		err      string
	}{
		{"nothing set: IDs only", nil, telemetry.IDsOnly, telemetry.ExporterNone, contract.OTLPProtocolHTTP, "payment", ""},
		{"disabled", map[string]string{contract.EnvOTelSDKDisabled: "true"}, telemetry.Off, telemetry.ExporterNone, contract.OTLPProtocolHTTP, "payment", ""},
		{"an endpoint exports over HTTP", map[string]string{contract.EnvOTLPEndpoint: "http://collector:4318"}, telemetry.Export, telemetry.ExporterOTLP, contract.OTLPProtocolHTTP, "payment", ""},
		{"gRPC", map[string]string{contract.EnvOTLPEndpoint: "http://collector:4317", contract.EnvOTLPProtocol: "grpc"}, telemetry.Export, telemetry.ExporterOTLP, contract.OTLPProtocolGRPC, "payment", ""},
		{"console", map[string]string{contract.EnvTracesExporter: "console", contract.EnvOTelServiceName: "pay"}, telemetry.Export, telemetry.ExporterConsole, contract.OTLPProtocolHTTP, "pay", ""},
		{"exporter none beats an endpoint", map[string]string{contract.EnvOTLPEndpoint: "http://c:4318", contract.EnvTracesExporter: "none"}, telemetry.IDsOnly, telemetry.ExporterNone, contract.OTLPProtocolHTTP, "payment", ""},
		{"ratio sampler", map[string]string{contract.EnvTracesSampler: contract.SamplerParentBasedRatio, contract.EnvTracesSamplerArg: "0.1"}, telemetry.IDsOnly, telemetry.ExporterNone, contract.OTLPProtocolHTTP, "payment", ""},
		{"bad boolean", map[string]string{contract.EnvOTelSDKDisabled: "yes please"}, "", "", "", "", contract.EnvOTelSDKDisabled},
		{"http/json is not spoken", map[string]string{contract.EnvOTLPProtocol: "http/json"}, "", "", "", "", contract.EnvOTLPProtocol},
		{"unknown exporter", map[string]string{contract.EnvTracesExporter: "zipkin"}, "", "", "", "", contract.EnvTracesExporter},
		{"unknown sampler", map[string]string{contract.EnvTracesSampler: "sometimes"}, "", "", "", "", contract.EnvTracesSampler},
		{"ratio above 1", map[string]string{contract.EnvTracesSampler: "traceidratio", contract.EnvTracesSamplerArg: "2"}, "", "", "", "", contract.EnvTracesSamplerArg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := telemetry.FromEnv(contract.Payment, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Exporter != tc.exporter || cfg.Protocol != tc.protocol || cfg.ServiceName != tc.service {
				t.Fatalf("exporter %q protocol %q service %q, want %q %q %q", cfg.Exporter, cfg.Protocol, cfg.ServiceName, tc.exporter, tc.protocol, tc.service)
			}
			p, err := telemetry.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(time.Second)
			if p.Mode() != tc.mode {
				t.Fatalf("mode %s, want %s", p.Mode(), tc.mode)
			}
		})
	}
}

const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

// In every mode but off, a request's trace ID (the caller's, when it sent
// one) reaches the upstream call, the log line and the error body.
func TestPropagation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		caller  string // the inbound traceparent
		sameAs  bool   // the outbound one keeps the caller's trace
		noTrace bool
	}{
		{"IDs only, from the caller's trace", nil, "00-" + callerTrace + "-00f067aa0ba902b7-01", true, false},
		{"IDs only, a new trace", nil, "", false, false},
		{"exporting", map[string]string{contract.EnvTracesExporter: "console"}, "00-" + callerTrace + "-00f067aa0ba902b7-01", true, false},
		{"off", map[string]string{contract.EnvOTelSDKDisabled: "true"}, "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := telemetry.FromEnv(contract.Reservation, func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Exporter == telemetry.ExporterConsole {
				cfg.SpanExporter = tracetest.NewNoopExporter() // keep stderr quiet
			}
			p, err := telemetry.New(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(time.Second)

			var sent string
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sent = r.Header.Get(contract.TraceParentHeader)
			}))
			defer upstream.Close()
			client := &http.Client{Transport: p.Transport(http.DefaultTransport, func(string) string { return "payment" })}
			var logs bytes.Buffer
			log := telemetry.Logger(slog.New(slog.NewJSONHandler(&logs, nil)))
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, upstream.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				log.InfoContext(r.Context(), "answered")
				httpx.EncodeError(r.Context(), errs.E(errs.NotFound, "no such car"), w)
			}))
			req := httptest.NewRequest(http.MethodGet, "/carManagements/car01", nil)
			if tc.caller != "" {
				req.Header.Set(contract.TraceParentHeader, tc.caller)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if tc.noTrace {
				if sent != "" || strings.Contains(logs.String(), "trace_id") || strings.Contains(rec.Body.String(), "traceId") {
					t.Fatalf("tracing off, yet traceparent %q, log %s, body %s", sent, logs.String(), rec.Body)
				}
				return
			}
			parts := strings.Split(sent, "-")
			if len(parts) != 4 || len(parts[1]) != 32 {
				t.Fatalf("upstream got traceparent %q", sent)
			}
			tid := parts[1]
			if tc.sameAs && tid != callerTrace {
				t.Fatalf("upstream trace %s, want the caller's %s", tid, callerTrace)
			}
			if tc.caller != "" && strings.Contains(sent, "00f067aa0ba902b7") {
				t.Fatalf("upstream's parent is the caller's span, not ours: %s", sent)
			}
			if !strings.Contains(logs.String(), `"trace_id":"`+tid+`"`) {
				t.Fatalf("log %s lacks trace_id %s", logs.String(), tid)
			}
			if !strings.Contains(rec.Body.String(), `"traceId":"`+tid+`"`) {
				t.Fatalf("error body %s lacks traceId %s", rec.Body, tid)
			}
		})
	}
}

// Server spans are named by the route pattern the innermost router
// matched, never by the raw path.
func TestServerSpanNamedByRoute(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p, err := telemetry.New(context.Background(), telemetry.Config{ServiceName: "management", SpanExporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(time.Second)
	inner := httpx.NewRouter()
	inner.HandleFunc("GET /carManagements/{carNo}", func(w http.ResponseWriter, r *http.Request) {})
	outer := httpx.NewRouter()
	outer.Handle("/", p.Handler(inner))
	for _, path := range []string{"/carManagements/car01", "/carManagements/car02", "/elsewhere/x"} {
		outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	var got []string
	for _, s := range exp.GetSpans() {
		got = append(got, s.Name)
	}
	want := []string{"GET /carManagements/{carNo}", "GET /carManagements/{carNo}", "GET"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("span names %q, want %q", got, want)
	}
}

// The per-request cost of the middleware and one upstream call's
// propagation, in each mode (exporting: batched OTLP/HTTP to a sink).
func BenchmarkHandler(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }))
	defer sink.Close()
	for _, mode := range []struct {
		name string
		env  map[string]string
	}{
		{"off", map[string]string{contract.EnvOTelSDKDisabled: "true"}},
		{"ids-only", nil},
		{"export-otlp-http", map[string]string{contract.EnvOTLPEndpoint: sink.URL}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			cfg, err := telemetry.FromEnv(contract.Reservation, func(k string) string { return mode.env[k] })
			if err != nil {
				b.Fatal(err)
			}
			p, err := telemetry.New(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Shutdown(5 * time.Second)
			rt := p.Transport(roundTripFunc(func(*http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
			}), func(string) string { return "payment" })
			router := httpx.NewRouter()
			router.HandleFunc("POST /carReservations", func(w http.ResponseWriter, r *http.Request) {
				req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, "http://payment:8080/payments", nil)
				_, _ = rt.RoundTrip(req)
			})
			h := p.Handler(router)
			req := httptest.NewRequest(http.MethodPost, "/carReservations", nil)
			req.Header.Set(contract.TraceParentHeader, "00-"+callerTrace+"-00f067aa0ba902b7-01")
			w := discardWriter{}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
