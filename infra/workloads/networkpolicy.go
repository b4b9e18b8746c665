package workloads

import (
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/svc/contract"
)

// networkPolicy is the layer-4 twin of the mesh's AuthorizationPolicies:
// it holds even for traffic that bypasses the sidecar.
//
// Ingress: only the service's callers in contract.Calls (and the pods of
// the namespaces in from, the ingress gateway for gateway) reach its HTTP
// port. Kubelet probes need no rule: traffic from a pod's own node is
// always allowed. The admin port is never reachable.
//
// Egress: any pod in the cluster (the services, istiod, NATS), DNS
// wherever the cluster runs it (a pod on EKS, the node itself in
// scripts/cluster), plus the extra rules the stack passes (the database
// outside the cluster); nothing else, so a compromised pod cannot reach
// the internet.
func networkPolicy(s contract.Service, from []string, egress networkingv1.NetworkPolicyEgressRuleArray) *networkingv1.NetworkPolicySpecArgs {
	peers := networkingv1.NetworkPolicyPeerArray{}
	for _, caller := range contract.Callers(s) {
		peers = append(peers, networkingv1.NetworkPolicyPeerArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(string(caller))}},
		})
	}
	for _, ns := range from {
		peers = append(peers, networkingv1.NetworkPolicyPeerArgs{
			NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(ns)}},
		})
	}
	ingress := networkingv1.NetworkPolicyIngressRuleArray{}
	if len(peers) > 0 { // no caller at all: the service takes no traffic
		ingress = append(ingress, networkingv1.NetworkPolicyIngressRuleArgs{
			From: peers,
			Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{
				Protocol: pulumi.String("TCP"), Port: pulumi.Int(contract.HTTPPort),
			}},
		})
	}
	dns := networkingv1.NetworkPolicyEgressRuleArgs{Ports: networkingv1.NetworkPolicyPortArray{
		networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)},
		networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(53)},
	}}
	inCluster := networkingv1.NetworkPolicyEgressRuleArgs{
		To: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{NamespaceSelector: &metav1.LabelSelectorArgs{}}},
	}
	return &networkingv1.NetworkPolicySpecArgs{
		PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(string(s))}},
		PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
		Ingress:     ingress,
		Egress:      append(networkingv1.NetworkPolicyEgressRuleArray{inCluster, dns}, egress...),
	}
}

// EgressTo allows TCP to port on the addresses of cidr: a database or a
// broker outside the cluster.
func EgressTo(cidr string, port int) networkingv1.NetworkPolicyEgressRuleInput {
	return networkingv1.NetworkPolicyEgressRuleArgs{
		To:    networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{IpBlock: &networkingv1.IPBlockArgs{Cidr: pulumi.String(cidr)}}},
		Ports: networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(port)}},
	}
}
