// Package monitoring declares what a Prometheus Operator and Grafana
// (kube-prometheus-stack, installed beside the stack) need to watch the
// services: a PodMonitor scraping every pod's /metrics, a PrometheusRule
// with the SLO burn-rate, breaker and outbox-lag alerts (rules.go), the
// Grafana dashboard as a ConfigMap its sidecar loads (dashboard.go), and
// the NetworkPolicy that lets Prometheus reach the pods. The metric names
// come from svc/contract, as the services register them.
package monitoring

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/svc/contract"
)

// The Prometheus Operator's API.
const OperatorAPI = "monitoring.coreos.com/v1"

// Labels the other side looks for: Grafana's dashboard sidecar loads
// ConfigMaps labelled DashboardLabel=1; the operator's Prometheus selects
// PodMonitors and PrometheusRules by ReleaseLabel (kube-prometheus-stack's
// default selectors).
const (
	DashboardLabel = "grafana_dashboard"
	ReleaseLabel   = "release"
)

// PartOfLabel marks every pod of the services (workloads' labels); the
// PodMonitor and the NetworkPolicy select by it.
const PartOfLabel = "app.kubernetes.io/part-of"

// Istio's metrics merging: a sidecar's agent scrapes the app's /metrics
// in the pod (where the prometheus.io annotations point) and serves it,
// with Envoy's own, on this port and path — plain HTTP the agent answers
// itself, outside mTLS. With STRICT mTLS it is the only way in for a
// Prometheus outside the mesh: its plaintext scrape of the app's port
// would be refused by the sidecar.
const (
	IstioMergedMetricsPort = 15020
	IstioMergedMetricsPath = "/stats/prometheus"
)

// Args configure the monitoring resources.
type Args struct {
	// Namespace is the services' (the PodMonitor and PrometheusRule go
	// there too, so the alerts read only this stack's pods).
	Namespace string
	// MonitoringNamespace is Prometheus' and Grafana's: the dashboard
	// ConfigMap goes there and its pods may scrape the services.
	MonitoringNamespace string
	// Release is the value of ReleaseLabel the operator selects by.
	Release string
	// Objectives per service; a service missing gets DefaultObjectives.
	Objectives map[contract.Service]Objective
	// Sidecars: the pods run Istio sidecars (meshMode sidecars), so
	// Prometheus scrapes the merged metrics port, not the app's.
	Sidecars  bool
	DependsOn []pulumi.Resource
}

// Monitoring is the declared monitoring.
type Monitoring struct {
	pulumi.ResourceState
	Rules, PodMonitor pulumi.Resource
	Dashboard         *corev1.ConfigMap
}

// New declares the monitoring of the services; the operator's CRDs must
// exist in the cluster.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Monitoring, error) {
	m := &Monitoring{}
	if err := ctx.RegisterComponentResource("carrental:monitoring:Monitoring", name, m, opts...); err != nil {
		return nil, err
	}
	groups, err := Rules(args.Namespace, args.Objectives)
	if err != nil {
		return nil, err
	}
	spec, err := RuleSpec(groups)
	if err != nil {
		return nil, err
	}
	board, err := Dashboard(args.Namespace, args.Objectives)
	if err != nil {
		return nil, err
	}
	child := pulumi.Composite(pulumi.Parent(m), pulumi.DependsOn(args.DependsOn))
	meta := func(n, ns string, labels map[string]string) *metav1.ObjectMetaArgs {
		l := pulumi.StringMap{PartOfLabel: pulumi.String("carrental")}
		for k, v := range labels {
			l[k] = pulumi.String(v)
		}
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: pulumi.String(ns), Labels: l}
	}
	release := map[string]string{ReleaseLabel: args.Release}
	m.Rules, err = apiextensions.NewCustomResource(ctx, name+"-rules", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(OperatorAPI),
		Kind:        pulumi.String("PrometheusRule"),
		Metadata:    meta("carrental", args.Namespace, release),
		OtherFields: kubernetes.UntypedArgs{"spec": spec},
	}, child)
	if err != nil {
		return nil, err
	}
	m.PodMonitor, err = apiextensions.NewCustomResource(ctx, name+"-pods", &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(OperatorAPI),
		Kind:        pulumi.String("PodMonitor"),
		Metadata:    meta("carrental", args.Namespace, release),
		OtherFields: kubernetes.UntypedArgs{"spec": PodMonitorSpec(args.Sidecars)},
	}, child)
	if err != nil {
		return nil, err
	}
	m.Dashboard, err = corev1.NewConfigMap(ctx, name+"-dashboard", &corev1.ConfigMapArgs{
		Metadata: meta("carrental-dashboard", args.MonitoringNamespace, map[string]string{DashboardLabel: "1"}),
		Data:     pulumi.StringMap{"carrental.json": pulumi.String(board)},
	}, child)
	if err != nil {
		return nil, err
	}
	// The services' NetworkPolicies admit only their callers; policies
	// add up, so this one lets Prometheus in on the port it scrapes (the
	// admin port stays closed).
	_, err = networkingv1.NewNetworkPolicy(ctx, name+"-scrape", &networkingv1.NetworkPolicyArgs{
		Metadata: meta("carrental-scrape", args.Namespace, nil),
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{PartOfLabel: pulumi.String("carrental")}},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
					NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{
						"kubernetes.io/metadata.name": pulumi.String(args.MonitoringNamespace)}},
				}},
				Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{
					Protocol: pulumi.String("TCP"), Port: pulumi.Int(scrapePort(args.Sidecars))}},
			}},
		},
	}, child)
	if err != nil {
		return nil, err
	}
	return m, ctx.RegisterResourceOutputs(m, pulumi.Map{})
}

// PodMonitorSpec scrapes every pod of the services: /metrics on the HTTP
// port, or with sidecars the agent's merged metrics (the app's series
// are the same, Envoy's come beside them).
func PodMonitorSpec(sidecars bool) map[string]any {
	endpoint := map[string]any{"port": contract.HTTPPortName, "path": contract.PathMetrics, "interval": "30s"}
	if sidecars {
		// The agent's port is no named container port: by number.
		endpoint = map[string]any{"targetPort": IstioMergedMetricsPort, "path": IstioMergedMetricsPath, "interval": "30s"}
	}
	return map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{PartOfLabel: "carrental"}},
		// The pod's label "app" (its service) is copied onto its series;
		// the operator adds namespace and pod.
		"podTargetLabels":     []any{"app"},
		"podMetricsEndpoints": []any{endpoint},
	}
}

func scrapePort(sidecars bool) int {
	if sidecars {
		return IstioMergedMetricsPort
	}
	return contract.HTTPPort
}

// ScrapeAnnotations tell a sidecar's agent (and an annotation-driven
// Prometheus) where a pod's own metrics are.
func ScrapeAnnotations() map[string]string {
	return map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   fmt.Sprint(contract.HTTPPort),
		"prometheus.io/path":   contract.PathMetrics,
	}
}

// RuleSpec is a PrometheusRule's spec holding groups.
func RuleSpec(groups []Group) (map[string]any, error) {
	return untyped(map[string]any{"groups": groups})
}

// untyped is v as the plain maps and slices of its JSON, the form the
// provider sends a custom resource's fields in.
func untyped(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}
