package addons

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/versions"
)

// The add-ons run beside the app on the same nodes, so they are held to the
// app's standard (kube-score, enforced by the test bed): bounded CPU,
// memory and local disk, a NetworkPolicy, pinned images, high user IDs
// where the chart lets us choose, and for Istio's control plane and
// ingress, two replicas under a disruption budget. What a chart does not
// let us set is listed, with the reason, in the test bed's exemptions
// (infra/testbed/addons_test.go).
//
// metrics-server stays one replica without a budget: its chart's budget
// template compares the cluster's version, and the test bed's API server,
// built from its module, reports none that parses, so the chart would not
// render there.

// resources is a container's requests and limits, in Kubernetes quantities.
type resources struct {
	CPU, Memory, Disk [2]string // request, limit
}

func (r resources) values() map[string]any {
	side := func(i int) map[string]any {
		return map[string]any{"cpu": r.CPU[i], "memory": r.Memory[i], "ephemeral-storage": r.Disk[i]}
	}
	return map[string]any{"requests": side(0), "limits": side(1)}
}

// Sized for a mesh of six services. istiod's upstream request (2 GiB) is
// for large meshes; it needs a few hundred MiB here, and two replicas of
// the upstream size would take half a small node.
var (
	istiodResources        = resources{CPU: [2]string{"250m", "2"}, Memory: [2]string{"512Mi", "2Gi"}, Disk: [2]string{"64Mi", "1Gi"}}
	ingressResources       = resources{CPU: [2]string{"100m", "2"}, Memory: [2]string{"128Mi", "1Gi"}, Disk: [2]string{"64Mi", "1Gi"}}
	metricsServerResources = resources{CPU: [2]string{"100m", "1"}, Memory: [2]string{"200Mi", "400Mi"}, Disk: [2]string{"64Mi", "256Mi"}}
)

// haReplicas is the fewest replicas of a control-plane add-on: with one, a
// PodDisruptionBudget of minAvailable 1 would block every node drain, so
// the charts create their budgets only from two.
const haReplicas = 2

// nonRootUID is the distroless "nonroot" user metrics-server's image
// declares; kube-score wants IDs above 10000 so they never collide with a
// node's own users.
const nonRootUID = 65532

// istioHub is where released Istio images live; the tag is the configured
// Istio version, so the chart source (repository or a local checkout)
// never decides which images run.
const istioHub = "docker.io/istio"

// metricsServerPort is the chart's containerPort.
const metricsServerPort = 10250

// MetricsServerVersion is the metrics-server image the chart runs, pinned
// apart from the chart's own default so the chart source (repository or a
// local checkout) never decides it; the local cluster's image is built from
// the same module version (scripts/tools/metrics-server).
const MetricsServerVersion = versions.MetricsServer

func metricsServerValues(pullPolicy string) map[string]any {
	return map[string]any{
		"args":      []any{"--kubelet-preferred-address-types=InternalIP"},
		"resources": metricsServerResources.values(),
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false,
			"readOnlyRootFilesystem":   true,
			"runAsNonRoot":             true,
			"runAsUser":                nonRootUID,
			"runAsGroup":               nonRootUID,
			"capabilities":             map[string]any{"drop": []any{"ALL"}},
			"seccompProfile":           map[string]any{"type": "RuntimeDefault"},
		},
		// Always where a registry serves it (a tag can be re-pushed: Always
		// checks its digest); IfNotPresent where the image was loaded.
		"image": map[string]any{"tag": MetricsServerVersion, "pullPolicy": pullPolicy},
	}
}

func istioGlobal(version string) map[string]any {
	return map[string]any{
		"hub": istioHub, "tag": version, "imagePullPolicy": "Always",
		// Istio's own policies: webhook and xDS ports in, any egress.
		"networkPolicy": map[string]any{"enabled": true},
	}
}

func istiodValues(version string) map[string]any {
	return map[string]any{
		"global":       istioGlobal(version),
		"autoscaleMin": haReplicas,
		"resources":    istiodResources.values(),
	}
}

func ingressValues(version string) map[string]any {
	return map[string]any{
		"name":                "istio-ingressgateway",
		"global":              istioGlobal(version),
		"autoscaling":         map[string]any{"minReplicas": haReplicas},
		"podDisruptionBudget": map[string]any{"minAvailable": 1},
		"resources":           ingressResources.values(),
		// The gateway limits each client by its address (trustedProxyHops
		// 1: the ingress's X-Forwarded-For entry). Only a Network Load
		// Balancer sending to the nodes that run an ingress pod keeps that
		// address: a classic ELB, or kube-proxy forwarding between nodes,
		// puts its own there and every client shares one bucket.
		"service": map[string]any{
			"externalTrafficPolicy": "Local",
			"annotations":           map[string]any{"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"},
		},
	}
}

// metricsServerPolicy gives metrics-server the shape of Istio's own
// policies, which its chart lacks: in, only its serving port (the API
// server, outside the pod network, is the only client); out, anything,
// because it scrapes every node's kubelet and talks to the API server,
// neither of which a pod selector can name.
func metricsServerPolicy(ctx *pulumi.Context, opts ...pulumi.ResourceOption) error {
	_, err := networkingv1.NewNetworkPolicy(ctx, "metrics-server", &networkingv1.NetworkPolicyArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("metrics-server"), Namespace: pulumi.String(metricsServerNamespace)},
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app.kubernetes.io/name": pulumi.String("metrics-server")}},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{networkingv1.NetworkPolicyIngressRuleArgs{
				Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{
					Protocol: pulumi.String("TCP"), Port: pulumi.Int(metricsServerPort),
				}},
			}},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{networkingv1.NetworkPolicyEgressRuleArgs{}},
		},
	}, opts...)
	return err
}
