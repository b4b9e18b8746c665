package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NetworkPolicy enforcement, optional (Node.NetworkPolicy; scripts/cluster
// up with CARRENTAL_CLUSTER_NETPOL=1): kube-router's network policy
// controller alone (--run-firewall, no routing, no service proxy), a host
// process like the others, over the bridge CNI. It puts every local pod
// behind a chain KUBE-POD-FW-* that its policies feed, hooked into INPUT,
// FORWARD (bridged pod-to-pod traffic too: bridge-nf-call-iptables) and
// OUTPUT through KUBE-ROUTER-*, with ipsets KUBE-SRC-*/KUBE-DST-* for the
// peers. Needs the ipset tool (Debian package ipset) and the kernel's
// ip_set and xt_set. down removes its chains (they are KUBE-* chains,
// like kube-proxy's) and then its ipsets.
//
// How it treats the node IP (CoreDNS, the API server, PostgreSQL all live
// on NodeIP): a pod's egress to NodeIP is delivered locally, so it passes
// KUBE-ROUTER-INPUT and the pod's firewall chain like egress to any other
// address. A policy that limits a pod's egress to pods therefore also cuts
// it off from DNS (kube-proxy has already turned 10.96.0.10 into
// NodeIP:53 when the filter sees it) and from the database: such a policy
// needs an ipBlock NodeIP/32 rule (or an egress rule on port 53 / 5432
// without a peer). Ingress from the node (kubelet probes) is always
// allowed ("traffic to pods when source is the pod's local node").

const kubeRouterUser = "system:kube-router"

func (n *Node) netpolMarker() string { return filepath.Join(n.Dir, "netpol") }

// netpol reports whether this node enforces NetworkPolicies: asked for now,
// or by the up that started it (the marker in the state directory).
func (n *Node) netpol() bool { return n.NetworkPolicy || exists(n.netpolMarker()) }

// nodeComponents are the components of this node, in start order.
func (n *Node) nodeComponents() []string {
	cs := append([]string(nil), components...)
	if n.netpol() {
		cs = append(cs, "kube-router")
	}
	return cs
}

// kubeRouterBin is built beside the other tools (by scripts/cluster, only
// when asked for: it is optional).
func (n *Node) kubeRouterBin() string {
	return filepath.Join(filepath.Dir(n.Tools.Kubelet), "kube-router")
}

func (n *Node) kubeRouterArgv() []string {
	return []string{n.kubeRouterBin(),
		"--kubeconfig", filepath.Join(n.Dir, "kube-router.kubeconfig"),
		"--hostname-override", NodeName,
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
		"--enable-cni=false", // the bridge CNI's configuration is ours
		"--enable-ipv4=true", "--enable-ipv6=false",
		"--service-cluster-ip-range", ServiceCIDR,
		// No listener at all: its health port would bind every address.
		"--health-port=0", "--metrics-port=0",
		"--v", "1",
	}
}

// startKubeRouter grants kube-router what its informers read, starts it
// and waits until its chains are hooked in.
func (n *Node) startKubeRouter(ctx context.Context, cs *kubernetes.Clientset) error {
	if _, err := os.Stat(n.kubeRouterBin()); err != nil {
		return fmt.Errorf("NetworkPolicy enforcement needs %s (CARRENTAL_CLUSTER_NETPOL=1 scripts/cluster up builds it)", n.kubeRouterBin())
	}
	if _, err := exec.LookPath("ipset"); err != nil {
		return fmt.Errorf("NetworkPolicy enforcement needs ipset (Debian package ipset)")
	}
	if _, err := run("ipset", "list", "-n"); err != nil {
		return fmt.Errorf("the kernel's ip_set does not answer: %w", err)
	}
	if err := os.WriteFile(n.netpolMarker(), []byte("kube-router\n"), 0o644); err != nil {
		return err
	}
	if err := ensureKubeRouterRBAC(ctx, cs); err != nil {
		return fmt.Errorf("kube-router's RBAC: %w", err)
	}
	return n.ensure(ctx, "kube-router", n.kubeRouterArgv(), func(ctx context.Context) error {
		// Its first sync hooks KUBE-ROUTER-FORWARD into FORWARD.
		return n.waitFor(ctx, "kube-router", time.Minute, func(context.Context) error {
			out, err := run("iptables", "-w", "-S", "FORWARD")
			if err == nil && !strings.Contains(out, "-j KUBE-ROUTER-FORWARD") {
				err = fmt.Errorf("no jump to KUBE-ROUTER-FORWARD in FORWARD yet")
			}
			return err
		})
	}, nil)
}

func ensureKubeRouterRBAC(ctx context.Context, cs *kubernetes.Clientset) error {
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: kubeRouterUser},
		Rules: []rbacv1.PolicyRule{
			// Its informers start on all of these, whatever it runs.
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "nodes", "services", "endpoints"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
		},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: kubeRouterUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: kubeRouterUser},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: kubeRouterUser}},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}
