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

	"github.com/carrental/carrental/svc/contract"
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
	labels := []string{contract.LabelEndpoint, contract.LabelOutcome}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: contract.Metric(contract.Service(service), contract.MetricRequests),
		Help: "Requests handled, by endpoint and outcome.",
	}, labels)
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    contract.Metric(contract.Service(service), contract.MetricRequestDuration),
		Help:    "Time spent in the endpoint, by endpoint and outcome.",
		Buckets: contract.RequestDurationBuckets(),
	}, labels)
	reg.MustRegister(requests, latency)
	return &Metrics{Requests: kitprometheus.NewCounter(requests), Latency: kitprometheus.NewHistogram(latency)}
}

// Record counts and times one call of endpoint that ended in outcome.
func (m *Metrics) Record(endpoint, outcome string, took time.Duration) {
	m.Requests.With(contract.LabelEndpoint, endpoint, contract.LabelOutcome, outcome).Add(1)
	m.Latency.With(contract.LabelEndpoint, endpoint, contract.LabelOutcome, outcome).Observe(took.Seconds())
}

// Instrument counts and times every call of the endpoint named name.
func Instrument(m *Metrics, name string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, req any) (any, error) {
			start := time.Now()
			resp, err := next(ctx, req)
			outcome := contract.OutcomeOK
			if err != nil {
				outcome = string(errs.CodeOf(err))
			}
			m.Record(name, outcome, time.Since(start))
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
