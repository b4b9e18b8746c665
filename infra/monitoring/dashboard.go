package monitoring

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/carrental/carrental/svc/contract"
)

// DashboardUID is the dashboard's stable UID: links to it survive a
// redeploy.
const DashboardUID = "carrental-services"

// Dashboard is the Grafana dashboard of the services in namespace, as
// the JSON Grafana imports: per service, its traffic by outcome, the
// share answered with a 5xx and the share slower than its latency
// threshold (against its objectives), the p50/p99 latency, and — where
// the service has them — its breakers and its outbox lag. Every query
// reads the services' own metrics (contract.Metrics), so the dashboard
// works before the recording rules have any history.
func Dashboard(namespace string, objectives map[contract.Service]Objective) ([]byte, error) {
	ds := common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr("${datasource}")}
	b := dashboard.NewDashboardBuilder("carrental services").
		Uid(DashboardUID).
		Tags([]string{"carrental", "generated"}).
		Refresh("30s").
		Time("now-3h", "now").
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")).
		WithVariable(dashboard.NewConstantVariableBuilder("namespace").Value(dashboard.StringOrMap{String: ptr(namespace)}))
	sel := `namespace="$namespace"`
	valid := fmt.Sprintf(`%s!="%s"`, contract.LabelOutcome, contract.OutcomeCanceled)
	panel := func(title, unit, description string, queries ...[2]string) *timeseries.PanelBuilder {
		p := timeseries.NewPanelBuilder().Title(title).Unit(unit).Description(description).Datasource(ds).Min(0).Span(8).Height(7)
		for i, q := range queries {
			p = p.WithTarget(prometheus.NewDataqueryBuilder().RefId(string(rune('A' + i))).Expr(q[0]).LegendFormat(q[1]))
		}
		return p
	}
	for _, s := range contract.Services() {
		o, ok := objectives[s]
		if !ok {
			o = DefaultObjectives()[s]
		}
		req, shed := contract.Metric(s, contract.MetricRequests), contract.Metric(s, contract.MetricShed)
		dur := contract.Metric(s, contract.MetricRequestDuration)
		failed := fmt.Sprintf(`%s=~"%s"`, contract.LabelOutcome, strings.Join(contract.ServerErrorOutcomes(), "|"))
		b = b.WithRow(dashboard.NewRowBuilder(string(s))).
			WithPanel(panel("Requests by outcome", "reqps", "Endpoint calls per second by outcome, and requests shed at capacity.",
				[2]string{fmt.Sprintf(`sum by (%s) (rate(%s{%s}[$__rate_interval]))`, contract.LabelOutcome, req, sel), "{{" + contract.LabelOutcome + "}}"},
				[2]string{fmt.Sprintf(`sum(rate(%s{%s}[$__rate_interval]))`, shed, sel), "shed"})).
			WithPanel(panel("Server errors (5xx)", "percentunit",
				fmt.Sprintf("Share of requests answered with a 5xx, shed ones included; the objective allows %s.", pct(1-o.Availability)),
				[2]string{fmt.Sprintf(`((sum(rate(%s{%s,%s}[$__rate_interval])) or vector(0)) + sum(rate(%s{%s}[$__rate_interval]))) / (sum(rate(%s{%s,%s}[$__rate_interval])) + sum(rate(%s{%s}[$__rate_interval])))`,
					req, sel, failed, shed, sel, req, sel, valid, shed, sel), "5xx"})).
			WithPanel(panel("Latency", "s",
				fmt.Sprintf("p50 and p99 of the endpoints, and the share slower than %vs (the objective allows %s).", o.LatencyThreshold, pct(1-o.Latency)),
				[2]string{fmt.Sprintf(`histogram_quantile(0.5, sum by (le) (rate(%s_bucket{%s,%s}[$__rate_interval])))`, dur, sel, valid), "p50"},
				[2]string{fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(%s_bucket{%s,%s}[$__rate_interval])))`, dur, sel, valid), "p99"},
				[2]string{fmt.Sprintf(`1 - sum(rate(%s_bucket{%s,%s,%s}[$__rate_interval])) / sum(rate(%s_count{%s,%s}[$__rate_interval]))`,
					dur, sel, valid, le(o.LatencyThreshold), dur, sel, valid), fmt.Sprintf("share over %vs", o.LatencyThreshold)}))
		if len(contract.Calls()[s]) > 0 {
			b = b.WithPanel(panel("Circuit breakers", "none", "Per upstream, the worst pod's breaker: 0 closed, 1 half-open, 2 open.",
				[2]string{fmt.Sprintf(`max by (%s) (%s{%s})`, contract.LabelUpstream, contract.Metric(s, contract.MetricBreakerState), sel), "{{" + contract.LabelUpstream + "}}"}).
				Max(contract.BreakerOpen))
		}
		if s == contract.Gateway {
			b = b.WithPanel(panel("Clients refused", "reqps", "Requests the per-client limits refused to protect the other clients: rate, queue and refused tokens (429), wait (503).",
				[2]string{fmt.Sprintf(`sum by (%s) (rate(%s{%s}[$__rate_interval]))`, contract.LabelReason, contract.Metric(s, contract.MetricClientRejected), sel), "{{" + contract.LabelReason + "}}"}))
			b = b.WithPanel(panel("Read cache", "reqps", "Reads of the car list the gateway answered from its cache (hit), joined to another read's upstream call (shared), or asked management for (miss).",
				[2]string{fmt.Sprintf(`sum by (%s) (rate(%s{%s}[$__rate_interval]))`, contract.LabelResult, contract.Metric(s, contract.MetricReadCache), sel), "{{" + contract.LabelResult + "}}"}))
		}
		if slices.Contains(contract.Outboxes(), s) {
			b = b.WithPanel(panel("Outbox", "s", fmt.Sprintf("How long the oldest unpublished event has waited (alerts at %ds and %ds), and how many wait.", OutboxLagWarning, OutboxLagPage),
				[2]string{fmt.Sprintf(`max(%s{%s})`, contract.Metric(s, contract.MetricOutboxOldestAge), sel), "oldest age"},
				[2]string{fmt.Sprintf(`sum(%s{%s})`, contract.Metric(s, contract.MetricOutboxPending), sel), "pending (count)"}))
		}
	}
	d, err := b.Build()
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(d, "", "  ")
}

func ptr[T any](v T) *T { return &v }
