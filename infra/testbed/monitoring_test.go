package testbed_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/carrental/carrental/infra/monitoring"
)

// operatorCRDs are the Prometheus Operator's PrometheusRule and
// PodMonitor CRDs, vendored from prometheus-operator v0.85.0
// (example/prometheus-operator-crd, Apache-2.0).
func operatorCRDs(t *testing.T) []byte {
	t.Helper()
	var all []byte
	for _, f := range []string{"monitoring.coreos.com_prometheusrules.yaml", "monitoring.coreos.com_podmonitors.yaml"} {
		b, err := os.ReadFile("testdata/prometheus-operator/" + f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, "\n---\n"...), b...)
	}
	return all
}

// TestOperatorAcceptsOurPrometheusRuleAndPodMonitor: the API server, with
// the operator's CRDs and their schemas, accepts what infra/monitoring
// declares and rejects a rule whose duration is not one.
func TestOperatorAcceptsOurPrometheusRuleAndPodMonitor(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	if n, err := c.ApplyCRDs(ctx, operatorCRDs(t)); err != nil || n != 2 {
		t.Fatalf("%d operator CRDs applied: %v", n, err)
	}
	if status, body, err := c.Apply(ctx, "namespaces", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"carrental"}}`)); err != nil || status >= 300 {
		t.Fatalf("namespace: %d %s %v", status, body, err)
	}
	groups, err := monitoring.Rules("carrental", monitoring.DefaultObjectives())
	if err != nil {
		t.Fatal(err)
	}
	rules, err := monitoring.RuleSpec(groups)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(kind, name string, spec map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"apiVersion": monitoring.OperatorAPI, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": "carrental"}, "spec": spec})
		return b
	}
	for _, v := range []struct {
		plural, kind string
		spec         map[string]any
	}{{"prometheusrules", "PrometheusRule", rules}, {"podmonitors", "PodMonitor", monitoring.PodMonitorSpec(false)},
		{"podmonitors", "PodMonitor", monitoring.PodMonitorSpec(true)}} {
		if status, body, err := c.Apply(ctx, v.plural, doc(v.kind, "carrental", v.spec)); err != nil || status >= 300 {
			t.Errorf("%s rejected: %d %s %v", v.kind, status, body, err)
		}
	}
	broken := map[string]any{"groups": []any{map[string]any{"name": "x", "rules": []any{
		map[string]any{"alert": "X", "expr": "up == 0", "for": "five minutes"}}}}}
	status, body, err := c.Apply(ctx, "prometheusrules", doc("PrometheusRule", "broken", broken))
	if err != nil {
		t.Fatal(err)
	}
	if status != 422 || !strings.Contains(string(body), "for") {
		t.Errorf("a rule with for: five minutes: status %d, want 422 naming it: %s", status, body)
	}
}
