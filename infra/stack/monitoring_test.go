package stack_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// Off by default; with carrental:monitoringEnabled the stack declares the
// PodMonitor and PrometheusRule in the app's namespace with the release
// label the operator selects by, the dashboard ConfigMap where Grafana's
// sidecar looks, and lets the monitoring namespace scrape the pods.
func TestMonitoringIsDeclaredOnlyWhenEnabled(t *testing.T) {
	const (
		rule       = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
		podMonitor = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
		netpol     = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	)
	r := run(t, "local", localConfig)
	for _, typ := range []string{rule, podMonitor} {
		if got := r.all(typ); len(got) != 0 {
			t.Fatalf("monitoring not enabled, yet %d %s declared", len(got), typ)
		}
	}
	// Without sidecars: the app's own port (the sidecars' case below).
	cfg := map[string]string{"carrental:monitoringEnabled": "true", "carrental:monitoringNamespace": "obs", "carrental:monitoringRelease": "prom", "carrental:meshMode": "policies"}
	for k, v := range localConfig {
		cfg[k] = v
	}
	r = run(t, "local", cfg)

	pr := r.find(t, rule, "monitoring-rules").Inputs
	eq(t, "rule namespace", at(t, pr, "metadata.namespace"), "carrental")
	eq(t, "rule release", at(t, pr, "metadata.labels.release"), "prom")
	groups := at(t, pr, "spec.groups").([]any)
	if len(groups) != 4 {
		t.Fatalf("%d rule groups, want recording, slo, breakers, outbox", len(groups))
	}
	b, _ := json.Marshal(groups)
	for _, want := range []string{"CarrentalAvailabilityBudgetBurn", "CarrentalLatencyBudgetBurn", "CarrentalBreakerOpen",
		"CarrentalOutboxLagging", `namespace=\"carrental\"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the PrometheusRule lacks %s", want)
		}
	}

	pm := r.find(t, podMonitor, "monitoring-pods").Inputs
	eq(t, "podmonitor release", at(t, pm, "metadata.labels.release"), "prom")
	eq(t, "podmonitor selects", at(t, pm, "spec.selector.matchLabels"), map[string]any{"app.kubernetes.io/part-of": "carrental"})
	eq(t, "podmonitor port", at(t, pm, "spec.podMetricsEndpoints.0.port"), "http")
	eq(t, "podmonitor path", at(t, pm, "spec.podMetricsEndpoints.0.path"), "/metrics")
	// The pods it selects carry the label.
	eq(t, "pod labels", at(t, r.find(t, deployment, "reservation").Inputs, "spec.template.metadata.labels").(map[string]any)["app.kubernetes.io/part-of"], "carrental")

	dash := r.find(t, configMap, "monitoring-dashboard").Inputs
	eq(t, "dashboard namespace", at(t, dash, "metadata.namespace"), "obs")
	eq(t, "dashboard label", at(t, dash, "metadata.labels.grafana_dashboard"), "1")
	var board map[string]any
	if err := json.Unmarshal([]byte(at(t, dash, "data").(map[string]any)["carrental.json"].(string)), &board); err != nil || board["uid"] != "carrental-services" {
		t.Fatalf("dashboard JSON: %v (%v)", err, board["uid"])
	}

	np := r.find(t, netpol, "monitoring-scrape").Inputs
	eq(t, "scrape from", at(t, np, "spec.ingress.0.from.0.namespaceSelector.matchLabels"), map[string]any{"kubernetes.io/metadata.name": "obs"})
	eq(t, "scrape port", at(t, np, "spec.ingress.0.ports.0.port"), 8080)
}

// With sidecars and STRICT mTLS a Prometheus outside the mesh cannot
// scrape the app's port in plaintext: it scrapes the agent's merged
// metrics, which the pods' annotations point at the app's /metrics, and
// the NetworkPolicy opens that port instead.
func TestSidecarPodsAreScrapedThroughTheMergedMetricsPort(t *testing.T) {
	const podMonitor = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
	for _, c := range []struct {
		mesh, port string
		path       string
		netpol     int
	}{
		{"sidecars", "targetPort", "/stats/prometheus", 15020},
		{"policies", "port", "/metrics", 8080},
	} {
		cfg := map[string]string{"carrental:monitoringEnabled": "true", "carrental:meshMode": c.mesh}
		for k, v := range localConfig {
			cfg[k] = v
		}
		r := run(t, "local", cfg)
		ep := at(t, r.find(t, podMonitor, "monitoring-pods").Inputs, "spec.podMetricsEndpoints.0").(map[string]any)
		if _, ok := ep[c.port]; !ok || ep["path"] != c.path {
			t.Errorf("%s: scrape endpoint %v, want %s and %s", c.mesh, ep, c.port, c.path)
		}
		eq(t, c.mesh+" scrape port", at(t, r.find(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "monitoring-scrape").Inputs, "spec.ingress.0.ports.0.port"), c.netpol)
		ann := at(t, r.find(t, deployment, "payment").Inputs, "spec.template.metadata.annotations").(map[string]any)
		if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != "8080" || ann["prometheus.io/path"] != "/metrics" {
			t.Errorf("%s: pod annotations %v do not point at the app's /metrics", c.mesh, ann)
		}
	}
}
