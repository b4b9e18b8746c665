package monitoring

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/carrental/carrental/svc/contract"
)

// The rule groups pass promtool's own checks (rulefmt: every expression
// parses, every template renders, names and durations are valid), and
// every raw metric an expression reads is one the services serve.
func TestRulesPassPromtoolsValidation(t *testing.T) {
	groups, err := Rules("carrental", DefaultObjectives())
	if err != nil {
		t.Fatal(err)
	}
	file, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := rulefmt.Parse(file); len(errs) > 0 {
		t.Fatalf("rulefmt: %v\n%s", errs, file)
	}
	records := map[string]bool{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records[r.Record] = true
			}
		}
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			for _, name := range metricsOf(t, r.Expr, "carrental") {
				if _, ok := contract.ServiceOfMetric(name); !ok && !records[name] {
					t.Errorf("%s%s reads %s: neither a service's metric (contract.Metrics) nor a recorded rule", r.Alert, r.Record, name)
				}
			}
		}
	}
}

// A burn alert fires when both of its windows burn faster than its
// factor allows, per service, and every severity exists per objective.
func TestEveryServiceHasBothObjectivesAlertedAtEveryBurnRate(t *testing.T) {
	groups, err := Rules("ns", DefaultObjectives())
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			count[r.Alert+"/"+r.Labels["service"]]++
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s (%s): severity, summary and description are what a responder reads: %+v", r.Alert, r.Labels["service"], r)
			}
		}
	}
	for _, s := range contract.Services() {
		for _, a := range []string{AlertAvailability, AlertLatency} {
			if n := count[a+"/"+string(s)]; n != len(burns) {
				t.Errorf("%s for %s: %d rules, want one per burn rate (%d)", a, s, n, len(burns))
			}
		}
		wantBreaker := 0
		if len(contract.Calls()[s]) > 0 {
			wantBreaker = 1
		}
		if count[AlertBreakerOpen+"/"+string(s)] != wantBreaker {
			t.Errorf("%s: %d breaker alerts, want %d", s, count[AlertBreakerOpen+"/"+string(s)], wantBreaker)
		}
		wantOutbox := 0
		if slices.Contains(contract.Outboxes(), s) {
			wantOutbox = 2
		}
		if count[AlertOutboxLag+"/"+string(s)] != wantOutbox {
			t.Errorf("%s: %d outbox alerts, want %d", s, count[AlertOutboxLag+"/"+string(s)], wantOutbox)
		}
	}
	// The fast page reads the 1h and 5m windows against 14.4 x the 0.5 % budget.
	var fast string
	for _, r := range groups[1].Rules {
		if r.Alert == AlertAvailability && r.Labels["service"] == "reservation" && r.Labels["window"] == "1h/5m" {
			fast = r.Expr
		}
	}
	want := `carrental_service:availability_errors:ratio_rate1h{service="reservation"} > 0.072 and carrental_service:availability_errors:ratio_rate5m{service="reservation"} > 0.072`
	if fast != want {
		t.Fatalf("fast burn alert:\n%s\nwant\n%s", fast, want)
	}
}

func TestObjectivesOutsideTheBucketsAreRefused(t *testing.T) {
	for _, o := range []Objective{
		{Availability: 0.995, Latency: 0.99, LatencyThreshold: 0.3}, // no bucket bound
		{Availability: 1, Latency: 0.99, LatencyThreshold: 0.5},     // no budget at all
		{Availability: 0.995, Latency: 0, LatencyThreshold: 0.5},
	} {
		objectives := DefaultObjectives()
		objectives[contract.Payment] = o
		if _, err := Rules("ns", objectives); err == nil || !strings.Contains(err.Error(), "payment") {
			t.Errorf("%+v: %v, want an error naming payment", o, err)
		}
	}
}

// The latency rule reads the bucket of its threshold, in the form both
// Prometheus 2 ("1") and 3 ("1.0") store.
func TestLatencyRuleSelectsTheThresholdsBucket(t *testing.T) {
	for _, c := range []struct {
		threshold float64
		matches   []string
	}{{0.5, []string{"0.5"}}, {1, []string{"1", "1.0"}}, {2.5, []string{"2.5"}}} {
		expr, err := parser.ParseExpr(latencySlow(contract.View, `namespace="ns"`, "5m", c.threshold))
		if err != nil {
			t.Fatal(err)
		}
		var matched bool
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok || !strings.HasSuffix(vs.Name, "_bucket") {
				return nil
			}
			for _, m := range vs.LabelMatchers {
				if m.Name != "le" {
					continue
				}
				matched = true
				for _, v := range c.matches {
					if !m.Matches(v) {
						t.Errorf("threshold %v: le matcher %s misses %q", c.threshold, m, v)
					}
				}
				if m.Matches("10") || m.Matches("0.05") {
					t.Errorf("threshold %v: le matcher %s takes another bucket", c.threshold, m)
				}
			}
			return nil
		})
		if !matched {
			t.Errorf("threshold %v: no le matcher", c.threshold)
		}
	}
}

// metricsOf lists the metric names expr selects, and checks that every
// selector of a service's metric holds to namespace: another stack's
// pods in the same Prometheus must not count.
func metricsOf(t *testing.T, expr, namespace string) []string {
	t.Helper()
	e, err := parser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		names = append(names, vs.Name)
		if _, served := contract.ServiceOfMetric(vs.Name); !served {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == "namespace" && m.Type == labels.MatchEqual && m.Value == namespace {
				return nil
			}
		}
		t.Errorf("%s: selector %s is not held to namespace %q", expr, vs, namespace)
		return nil
	})
	return names
}
