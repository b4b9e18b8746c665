// Package endpointmw holds the go-kit endpoint middlewares every service wraps
// its endpoints in: structured logging and Prometheus instrumentation (a
// request counter and a latency histogram per endpoint and outcome).
package endpointmw

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/metrics"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/platform/errs"
)

// Metrics are one service's endpoint metrics.
type Metrics struct {
	Requests metrics.Counter
	Latency  metrics.Histogram
}

// NewMetrics registers the metrics of service in reg. Each service has its
// own registry so six services in one process keep separate /metrics.
func NewMetrics(reg prometheus.Registerer, service string) *Metrics {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "carrental", Subsystem: service, Name: "requests_total",
		Help: "Requests handled, by endpoint and outcome.",
	}, []string{"endpoint", "outcome"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "carrental", Subsystem: service, Name: "request_duration_seconds",
		Help:    "Time spent in the endpoint, by endpoint and outcome.",
		Buckets: prometheus.DefBuckets,
	}, []string{"endpoint", "outcome"})
	reg.MustRegister(requests, latency)
	return &Metrics{Requests: kitprometheus.NewCounter(requests), Latency: kitprometheus.NewHistogram(latency)}
}

// Instrument counts and times every call of the endpoint named name.
func Instrument(m *Metrics, name string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, req any) (any, error) {
			start := time.Now()
			resp, err := next(ctx, req)
			outcome := "ok"
			if err != nil {
				outcome = string(errs.CodeOf(err))
			}
			m.Requests.With("endpoint", name, "outcome", outcome).Add(1)
			m.Latency.With("endpoint", name, "outcome", outcome).Observe(time.Since(start).Seconds())
			return resp, err
		}
	}
}

// Log logs every call of the endpoint named name, once: debug on success
// and when the caller gave up (not a failure of ours), info on a client
// error, error on a server error.
func Log(log *slog.Logger, name string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, req any) (any, error) {
			start := time.Now()
			resp, err := next(ctx, req)
			took := time.Since(start)
			switch code := errs.CodeOf(err); code {
			case "":
				log.DebugContext(ctx, "request", "endpoint", name, "took", took)
			case errs.Canceled:
				log.DebugContext(ctx, "request canceled by the caller", "endpoint", name, "took", took)
			case errs.Internal, errs.Unavailable, errs.Timeout:
				log.ErrorContext(ctx, "request failed", "endpoint", name, "code", code, "took", took, "err", err)
			default:
				log.InfoContext(ctx, "request rejected", "endpoint", name, "code", code, "took", took, "err", err)
			}
			return resp, err
		}
	}
}

// Chain wraps e in the logging and instrumenting middlewares for name.
func Chain(e endpoint.Endpoint, name string, log *slog.Logger, m *Metrics) endpoint.Endpoint {
	return Log(log, name)(Instrument(m, name)(e))
}
