package telemetry

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Handler starts a server span for every request next serves, as a child
// of the caller's traceparent when there is one. The span is named by the
// method until a router names it by the route pattern it matched (see
// NameByRoute): a raw path would make one span name per car.
func (p *Provider) Handler(next http.Handler) http.Handler {
	if p.mode == Off {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := p.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		if !span.IsRecording() {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		span.SetAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path))
		rec := NewStatusRecorder(w)
		next.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(attribute.Int("http.response.status_code", rec.Status))
		if rec.Status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(rec.Status))
		}
	})
}

// NameByRoute names r's server span after the route pattern that matched
// it, e.g. "POST /carReservations" or, for a pattern without a method,
// "POST /carReservations/". The innermost router to match names it last.
func NameByRoute(r *http.Request, pattern string) {
	span := trace.SpanFromContext(r.Context())
	if !span.IsRecording() {
		return
	}
	name := pattern
	if len(pattern) > 0 && pattern[0] == '/' {
		name = r.Method + " " + pattern
	}
	span.SetName(name)
	span.SetAttributes(attribute.String("http.route", pattern))
}

// StatusRecorder is a ResponseWriter that remembers the status written
// through it (200 when none is): what a span or a metric reports.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// NewStatusRecorder records what is written to w.
func NewStatusRecorder(w http.ResponseWriter) *StatusRecorder {
	return &StatusRecorder{ResponseWriter: w, Status: http.StatusOK}
}

func (s *StatusRecorder) WriteHeader(code int) {
	s.Status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController (the gateway's proxy flushes
// through it) reach the connection's writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Transport starts a client span for every call through next (one per
// go-kit client call or proxied request, the retries of the resilience
// layer beneath it) and sends its traceparent. peer names the service at
// a host:port, for the span's name.
func (p *Provider) Transport(next http.RoundTripper, peer func(host string) string) http.RoundTripper {
	if p.mode == Off {
		return next
	}
	return &transport{next: next, tracer: p.tracer, peer: peer}
}

type transport struct {
	next   http.RoundTripper
	tracer trace.Tracer
	peer   func(host string) string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	name := req.Method
	if svc := t.peer(req.URL.Host); svc != "" {
		name += " " + svc
	}
	ctx, span := t.tracer.Start(req.Context(), name, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	// A RoundTripper must not change the caller's request.
	out := req.WithContext(ctx)
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	propagator.Inject(ctx, propagation.HeaderCarrier(out.Header))
	if !span.IsRecording() {
		return t.next.RoundTrip(out)
	}
	span.SetAttributes(attribute.String("http.request.method", req.Method), attribute.String("server.address", req.URL.Host),
		attribute.String("url.path", req.URL.Path))
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(resp.StatusCode))
	}
	return resp, nil
}
