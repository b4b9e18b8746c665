package contract

import "strings"

// The Prometheus metrics every service serves at PathMetrics, named once:
// the services register them under these names and the deployment's
// alerts and dashboard (infra/monitoring) query them by the same names.
// Each metric is carrental_<service>_<suffix>, so six services in one
// process keep separate series and one metric name means one service.
const MetricNamespace = "carrental"

// Metric suffixes (Metric(s, suffix) is the full name).
const (
	// MetricRequests counts endpoint calls by LabelEndpoint and
	// LabelOutcome (a counter).
	MetricRequests = "requests_total"
	// MetricRequestDuration times them, by the same labels (a histogram
	// over RequestDurationBuckets: _bucket, _count and _sum series).
	MetricRequestDuration = "request_duration_seconds"
	// MetricShed counts requests the service shed at capacity (503 with
	// Retry-After) before any endpoint saw them (a counter).
	MetricShed = "shed_total"
	// MetricBreakerState is the state of the circuit breaker on calls to
	// one upstream (LabelUpstream), one of the Breaker* values (a gauge;
	// only services that call others, contract.Calls, have it).
	MetricBreakerState = "breaker_state"
	// MetricOutboxPending is how many committed events wait in the
	// transactional outbox for the relay (a gauge; services of Outboxes).
	MetricOutboxPending = "outbox_pending"
	// MetricOutboxOldestAge is how long the oldest of them has waited, in
	// seconds, 0 when none does (a gauge; services of Outboxes).
	MetricOutboxOldestAge = "outbox_oldest_pending_age_seconds"
	// MetricClientRejected counts the gateway's refusals that protect the
	// other clients, by LabelReason (a counter; the gateway only).
	MetricClientRejected = "client_rejected_total"
	// MetricReadCache counts the reads the gateway's read cache saw, by
	// LabelResult: hit (answered from it), shared (a miss that joined
	// another's upstream call), miss (a call upstream). A counter; the
	// gateway only.
	MetricReadCache = "read_cache_total"
)

// Labels of the metrics above.
const (
	LabelEndpoint = "endpoint"
	LabelOutcome  = "outcome"
	LabelUpstream = "upstream"
	LabelReason   = "reason"
	LabelResult   = "result"
)

// OutcomeOK is LabelOutcome of a call that succeeded; a failed call's
// outcome is its error code (invalid, not_found, unavailable, ...).
const OutcomeOK = "ok"

// ServerErrorOutcomes are the outcomes the caller sees as a 5xx: what the
// availability objective counts against the service. The caller hanging
// up (OutcomeCanceled, answered 499) is nobody's failure and counts
// neither way.
func ServerErrorOutcomes() []string {
	return []string{"internal", "unavailable", "timeout", "overloaded"}
}

// OutcomeCanceled is the outcome of a call whose caller gave up.
const OutcomeCanceled = "canceled"

// Values of MetricBreakerState, in the order a breaker moves through them
// when its upstream fails.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// RequestDurationBuckets are MetricRequestDuration's bucket bounds in
// seconds (Prometheus' default buckets). A latency objective's threshold
// must be one of them: the share of requests slower than it is read from
// the bucket of that bound.
func RequestDurationBuckets() []float64 {
	return []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// Metric is the full name of one of s's metrics, e.g.
// carrental_reservation_requests_total.
func Metric(s Service, suffix string) string {
	return MetricNamespace + "_" + string(s) + "_" + suffix
}

// Outboxes are the services that keep a transactional outbox (a database
// and events), each with a relay publishing it.
func Outboxes() []Service {
	return []Service{Management, Reservation, Payment, Rental, View}
}

// Metrics are the names of the series s serves at PathMetrics besides the
// Go runtime's and the process's (a histogram as its _bucket, _count and
// _sum series).
func Metrics(s Service) []string {
	out := []string{Metric(s, MetricRequests), Metric(s, MetricShed)}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		out = append(out, Metric(s, MetricRequestDuration)+suffix)
	}
	if len(Calls()[s]) > 0 {
		out = append(out, Metric(s, MetricBreakerState))
	}
	if s == Gateway {
		out = append(out, Metric(s, MetricClientRejected), Metric(s, MetricReadCache))
	}
	for _, o := range Outboxes() {
		if o == s {
			out = append(out, Metric(s, MetricOutboxPending), Metric(s, MetricOutboxOldestAge))
		}
	}
	return out
}

// ServiceOfMetric is the service whose metric name is, and whether it is
// one of Metrics(that service).
func ServiceOfMetric(name string) (Service, bool) {
	for _, s := range Services() {
		if !strings.HasPrefix(name, MetricNamespace+"_"+string(s)+"_") {
			continue
		}
		for _, m := range Metrics(s) {
			if m == name {
				return s, true
			}
		}
	}
	return "", false
}
