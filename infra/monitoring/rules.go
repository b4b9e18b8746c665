package monitoring

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/carrental/carrental/svc/contract"
)

// Objective is one service's service-level objectives over a 30-day
// window: what share of its requests must succeed, and what share must
// be answered within LatencyThreshold. A caller that hung up counts
// neither way; a request shed at capacity (503) counts as a failure.
type Objective struct {
	// Availability is the share of requests answered without a 5xx.
	Availability float64
	// Latency is the share answered within LatencyThreshold.
	Latency float64
	// LatencyThreshold is in seconds, one of
	// contract.RequestDurationBuckets: the share of faster requests is
	// read from that bucket.
	LatencyThreshold float64
}

// The default objectives, every service alike. 99.5 % leaves a budget of
// 3.6 hours of failures a month. Half a second is the bucket bound
// above the slowest healthy call chain (gateway -> reservation ->
// management and payment, each a local SQL transaction), and well under
// the 2 s per-try timeout, so an upstream that hangs burns the budget
// before the timeouts turn it into 5xx.
const (
	DefaultAvailability     = 0.995
	DefaultLatency          = 0.99
	DefaultLatencyThreshold = 0.5
)

// DefaultObjectives gives every service the default objective.
func DefaultObjectives() map[contract.Service]Objective {
	out := map[contract.Service]Objective{}
	for _, s := range contract.Services() {
		out[s] = Objective{Availability: DefaultAvailability, Latency: DefaultLatency, LatencyThreshold: DefaultLatencyThreshold}
	}
	return out
}

// Validate says whether o can be alerted on.
func (o Objective) Validate() error {
	if !(o.Availability > 0 && o.Availability < 1) || !(o.Latency > 0 && o.Latency < 1) {
		return fmt.Errorf("objectives are shares strictly between 0 and 1: availability %v, latency %v", o.Availability, o.Latency)
	}
	if !slices.Contains(contract.RequestDurationBuckets(), o.LatencyThreshold) {
		return fmt.Errorf("latency threshold %vs is not a bucket bound of %v", o.LatencyThreshold, contract.RequestDurationBuckets())
	}
	return nil
}

// burn is one multi-window, multi-burn-rate alert (the Google SRE
// workbook's, for a 30-day budget): it fires when the budget burns
// factor times faster than sustainable over both the long window (the
// burn is significant) and the short one (it is still going on, so the
// alert resets soon after the cause is fixed). 14.4x over an hour spends
// 2 % of the month's budget; 6x over 6 hours, 5 %; those page. 3x over a
// day and 1x over 3 days, 10 % each, make a ticket.
type burn struct {
	long, short string
	factor      float64
	severity    string
}

var burns = []burn{
	{"1h", "5m", 14.4, SeverityPage},
	{"6h", "30m", 6, SeverityPage},
	{"1d", "2h", 3, SeverityTicket},
	{"3d", "6h", 1, SeverityTicket},
}

// Severities of the alerts (label "severity"): page wakes someone,
// ticket and warning wait for working hours.
const (
	SeverityPage    = "page"
	SeverityTicket  = "ticket"
	SeverityWarning = "warning"
)

// Outbox lag: the relay polls every second and publishes at once after a
// commit, so an event normally waits well under a second. Half a minute
// means the broker refuses or the relay is stuck; five minutes means the
// other services' read models and car states are that far behind.
const (
	OutboxLagWarning = 30  // seconds
	OutboxLagPage    = 300 // seconds
)

// BreakerStuckFor is how long a breaker must have stayed away from closed
// (open, or half-open with its trial calls failing) before the breaker
// alert fires: longer than one open period (contract.BaseEjectionTime),
// so a breaker that opens once and recovers at its first trial does not.
const BreakerStuckFor = "2m"

// Group is a Prometheus rule group, as a PrometheusRule's spec.groups
// and a rule file (rulefmt) spell it.
type Group struct {
	Name  string `json:"name"`
	Rules []Rule `json:"rules"`
}

// Rule is a recording rule (Record) or an alerting rule (Alert).
type Rule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Names of the recording rules: the error and slow shares of a service's
// requests over a window (e.g. carrental_service:availability_errors:ratio_rate5m),
// labelled service.
const (
	recordAvailability = "carrental_service:availability_errors:ratio_rate"
	recordLatency      = "carrental_service:latency_slow:ratio_rate"
)

// Alert names.
const (
	AlertAvailability = "CarrentalAvailabilityBudgetBurn"
	AlertLatency      = "CarrentalLatencyBudgetBurn"
	AlertBreakerOpen  = "CarrentalBreakerOpen"
	AlertOutboxLag    = "CarrentalOutboxLagging"
)

// Rules are the recording and alerting rules for the services running
// in namespace under objectives (a service missing from objectives gets
// the default).
func Rules(namespace string, objectives map[contract.Service]Objective) ([]Group, error) {
	ns := `namespace="` + namespace + `"`
	var record, slo, breakers, outbox []Rule
	for _, s := range contract.Services() {
		o, ok := objectives[s]
		if !ok {
			o = DefaultObjectives()[s]
		}
		if err := o.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		for _, w := range windows() {
			record = append(record,
				Rule{Record: recordAvailability + w, Expr: availabilityErrors(s, ns, w), Labels: map[string]string{"service": string(s)}},
				Rule{Record: recordLatency + w, Expr: latencySlow(s, ns, w, o.LatencyThreshold), Labels: map[string]string{"service": string(s)}})
		}
		for _, b := range burns {
			slo = append(slo,
				burnAlert(AlertAvailability, recordAvailability, s, b, 1-o.Availability,
					fmt.Sprintf("%s answers more than %s of its requests with a 5xx", s, pct(b.factor*(1-o.Availability))),
					fmt.Sprintf("%s of %s's requests failed over the last %s (objective: %s succeed); at this rate the month's error budget lasts %s.",
						"{{ $value | humanizePercentage }}", s, b.long, pct(o.Availability), budgetLasts(b.factor))),
				burnAlert(AlertLatency, recordLatency, s, b, 1-o.Latency,
					fmt.Sprintf("%s answers more than %s of its requests slower than %vs", s, pct(b.factor*(1-o.Latency)), o.LatencyThreshold),
					fmt.Sprintf("%s of %s's requests took longer than %vs over the last %s (objective: %s within it); at this rate the month's budget lasts %s.",
						"{{ $value | humanizePercentage }}", s, o.LatencyThreshold, b.long, pct(o.Latency), budgetLasts(b.factor))))
		}
		if len(contract.Calls()[s]) > 0 {
			breakers = append(breakers, Rule{
				Alert: AlertBreakerOpen,
				Expr: fmt.Sprintf("min_over_time(%s{%s}[%s]) >= %d",
					contract.Metric(s, contract.MetricBreakerState), ns, BreakerStuckFor, contract.BreakerHalfOpen),
				For:    "1m",
				Labels: map[string]string{"severity": SeverityWarning, "service": string(s)},
				Annotations: map[string]string{
					"summary": fmt.Sprintf("%s's breaker on {{ $labels.upstream }} has not closed for %s", s, BreakerStuckFor),
					"description": fmt.Sprintf("Pod {{ $labels.pod }} of %s fails its calls to {{ $labels.upstream }} at once (503, circuit open) "+
						"and every trial call since has failed: look at {{ $labels.upstream }}.", s),
				},
			})
		}
		if slices.Contains(contract.Outboxes(), s) {
			for _, lag := range []struct {
				seconds  int
				severity string
			}{{OutboxLagWarning, SeverityWarning}, {OutboxLagPage, SeverityPage}} {
				outbox = append(outbox, Rule{
					Alert:  AlertOutboxLag,
					Expr:   fmt.Sprintf("max(%s{%s}) > %d", contract.Metric(s, contract.MetricOutboxOldestAge), ns, lag.seconds),
					For:    "5m",
					Labels: map[string]string{"severity": lag.severity, "service": string(s)},
					Annotations: map[string]string{
						"summary": fmt.Sprintf("%s's events wait more than %ds in its outbox", s, lag.seconds),
						"description": fmt.Sprintf("The oldest unpublished event of %s has waited {{ $value | humanizeDuration }}: "+
							"the relay cannot publish (NATS down or refusing), so the consumers of its events fall behind.", s),
					},
				})
			}
		}
	}
	return []Group{
		{Name: "carrental-slo-recording", Rules: record},
		{Name: "carrental-slo-alerts", Rules: slo},
		{Name: "carrental-breakers", Rules: breakers},
		{Name: "carrental-outbox", Rules: outbox},
	}, nil
}

// windows are every window the burn alerts read, shortest first.
func windows() []string {
	var out []string
	for _, b := range burns {
		for _, w := range []string{b.short, b.long} {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// availabilityErrors is the share of s's requests over w that were
// answered with a 5xx, shed requests included. "or vector(0)" keeps a
// term that has no series yet (no failure so far, nothing shed) from
// emptying the sum; no traffic at all is 0/0, which never fires.
func availabilityErrors(s contract.Service, ns, w string) string {
	req, shed := contract.Metric(s, contract.MetricRequests), contract.Metric(s, contract.MetricShed)
	failed := fmt.Sprintf(`%s=~"%s"`, contract.LabelOutcome, strings.Join(contract.ServerErrorOutcomes(), "|"))
	valid := fmt.Sprintf(`%s!="%s"`, contract.LabelOutcome, contract.OutcomeCanceled)
	shedRate := fmt.Sprintf(`(sum(rate(%s{%s}[%s])) or vector(0))`, shed, ns, w)
	return fmt.Sprintf(`((sum(rate(%s{%s,%s}[%s])) or vector(0)) + %s) / ((sum(rate(%s{%s,%s}[%s])) or vector(0)) + %s)`,
		req, ns, failed, w, shedRate, req, ns, valid, w, shedRate)
}

// latencySlow is the share of s's requests over w slower than threshold.
func latencySlow(s contract.Service, ns, w string, threshold float64) string {
	h := contract.Metric(s, contract.MetricRequestDuration)
	valid := fmt.Sprintf(`%s!="%s"`, contract.LabelOutcome, contract.OutcomeCanceled)
	return fmt.Sprintf(`1 - (sum(rate(%s_bucket{%s,%s,%s}[%s])) / sum(rate(%s_count{%s,%s}[%s])))`,
		h, ns, valid, le(threshold), w, h, ns, valid, w)
}

// le selects the bucket of bound v. Prometheus 3 stores a whole bound as
// "1.0" where the service exposes "1"; the pattern matches both.
func le(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if v == math.Trunc(v) {
		return `le=~"` + s + `(\\.0)?"`
	}
	return `le="` + s + `"`
}

func burnAlert(name, record string, s contract.Service, b burn, budget float64, summary, description string) Rule {
	threshold := strconv.FormatFloat(b.factor*budget, 'g', 6, 64)
	sel := `{service="` + string(s) + `"}`
	return Rule{
		Alert: name,
		Expr:  fmt.Sprintf("%s%s%s > %s and %s%s%s > %s", record, b.long, sel, threshold, record, b.short, sel, threshold),
		Labels: map[string]string{"severity": b.severity, "service": string(s),
			"window": b.long + "/" + b.short},
		Annotations: map[string]string{"summary": summary, "description": description},
	}
}

func pct(share float64) string {
	return strconv.FormatFloat(share*100, 'g', 4, 64) + "%"
}

// budgetLasts is how long a 30-day budget lasts when it burns factor
// times too fast.
func budgetLasts(factor float64) string {
	hours := 30 * 24 / factor
	if hours >= 48 {
		return strconv.FormatFloat(hours/24, 'g', 3, 64) + " days"
	}
	return strconv.FormatFloat(hours, 'g', 3, 64) + " hours"
}
