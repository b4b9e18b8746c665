package testbed_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/carrental/carrental/infra/testbed"
)

// TestNodeNetworkPolicy proves the optional enforcement (kube-router's
// firewall, CARRENTAL_CLUSTER_NETPOL=1): a policy that denies all ingress
// to one pod makes connections to it fail while a pod a policy admits
// still answers; deleting the policy opens it again. It then shows how
// traffic to the node IP (CoreDNS, PostgreSQL) is treated: a policy that
// limits a pod's egress to pods cuts it off from both, until the policy
// also admits NodeIP/32.
//
// CARRENTAL_CLUSTER=1 CARRENTAL_CLUSTER_NETPOL=1 runs it, on a node of its
// own (kube-router built: CARRENTAL_CLUSTER_NETPOL=1 scripts/cluster up
// builds it, or go build it from scripts/tools/kube-router into the tools'
// bin), or on the one up with CARRENTAL_CLUSTER_REUSE=1 (up with
// CARRENTAL_CLUSTER_NETPOL=1).
func TestNodeNetworkPolicy(t *testing.T) {
	if os.Getenv("CARRENTAL_CLUSTER") != "1" || os.Getenv("CARRENTAL_CLUSTER_NETPOL") != "1" {
		t.Skip("CARRENTAL_CLUSTER=1 CARRENTAL_CLUSTER_NETPOL=1 runs a real node with kube-router (root; see scripts/cluster)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	n, cs, finish := upNodeWith(ctx, t, true)
	defer finish()
	if out, err := exec.Command("iptables-save", "-t", "filter").Output(); err != nil || !bytes.Contains(out, []byte("KUBE-ROUTER-FORWARD")) {
		t.Fatalf("no KUBE-ROUTER-FORWARD chain: kube-router is not enforcing (%v)", err)
	}

	image := loadTestApp(ctx, t, n, "np")
	ns := testNamespace(ctx, t, cs, "netpol-test")

	psc, sc := restricted()
	ip := map[string]string{}
	for _, name := range []string{"denied", "allowed", "client", "stranger"} {
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{SecurityContext: psc, Containers: []corev1.Container{{
				Name: "app", Image: image, ImagePullPolicy: corev1.PullNever, SecurityContext: sc,
				Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
				VolumeMounts:   []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
			}}, Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"denied", "allowed", "client", "stranger"} {
		ip[name] = waitPodReady(ctx, t, cs, ns, name, 2*time.Minute).Status.PodIP
	}

	exec1 := func(pod string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, n.Tools.Kubectl, append([]string{"--kubeconfig", n.Kubeconfig(), "-n", ns,
			"exec", pod, "--", "/testapp"}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
		}
		return out.String(), nil
	}
	reach := func(from, to string) error {
		_, err := exec1(from, "dial", ip[to]+":8080")
		return err
	}
	// eventually waits until check holds (kube-router applies a change
	// within a second or two of the API event).
	eventually := func(what string, check func() error) time.Duration {
		t.Helper()
		t0 := time.Now()
		var err error
		for time.Since(t0) < time.Minute {
			if err = check(); err == nil {
				return time.Since(t0)
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Fatalf("%s: not after 1m: %v", what, err)
		return 0
	}
	for _, to := range []string{"denied", "allowed"} {
		if err := reach("client", to); err != nil {
			t.Fatalf("before any policy, client -> %s: %v", to, err)
		}
	}

	// deny-all ingress to "denied"; "allowed" admits "client" only.
	denyAll := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "deny-denied"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "denied"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		}}
	port := intstr.FromInt32(8080)
	onlyClient := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "allowed-from-client"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "allowed"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
			}},
		}}
	for _, p := range []*networkingv1.NetworkPolicy{denyAll, onlyClient} {
		if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var denyErr error
	took := eventually("client -> denied refused", func() error {
		if denyErr = reach("client", "denied"); denyErr == nil {
			return fmt.Errorf("still connects")
		}
		return nil
	})
	t.Logf("deny-all ingress enforced %.1fs after create: client -> denied: %v", took.Seconds(), denyErr)
	if err := reach("client", "allowed"); err != nil {
		t.Fatalf("client -> allowed (admitted by policy): %v", err)
	}
	if err := reach("stranger", "allowed"); err == nil {
		t.Fatal("stranger -> allowed connects, but the policy admits only client")
	}
	if err := reach("allowed", "client"); err != nil {
		t.Fatalf("allowed -> client (no policy on client): %v", err)
	}
	// The kubelet's probes come from the node: still admitted.
	time.Sleep(3 * time.Second)
	waitPodReady(ctx, t, cs, ns, "denied", 5*time.Second)
	t.Log("client -> allowed connects, stranger -> allowed does not, denied stays Ready (probes from the node pass)")

	if err := cs.NetworkingV1().NetworkPolicies(ns).Delete(ctx, denyAll.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	took = eventually("client -> denied after delete", func() error { return reach("client", "denied") })
	t.Logf("policy deleted: client -> denied connects again after %.1fs", took.Seconds())

	// Egress to pods only: what becomes of DNS and PostgreSQL on the node IP?
	dbAddr := fmt.Sprintf("%s:%d", testbed.NodeIP, testbed.PostgresPort)
	dnsName := "kubernetes.default.svc.cluster.local"
	if _, err := exec1("client", "resolve", dnsName); err != nil {
		t.Fatalf("client resolves %s before: %v", dnsName, err)
	}
	if _, err := exec1("client", "dial", dbAddr); err != nil {
		t.Fatalf("client -> %s before: %v", dbAddr, err)
	}
	podsOnly := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "client-egress-pods-only"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "client"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
				{NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{}}}}},
		}}
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Create(ctx, podsOnly, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("client egress limited", func() error {
		if _, err := exec1("client", "dial", dbAddr); err == nil {
			return fmt.Errorf("client still reaches %s", dbAddr)
		}
		return nil
	})
	_, dnsErr := exec1("client", "resolve", dnsName)
	_, dbErr := exec1("client", "dial", dbAddr)
	podErr := reach("client", "allowed")
	t.Logf("egress to pods only: pod -> pod %v; DNS (10.96.0.10 -> %s:53) %v; PostgreSQL %s %v", errOrOK(podErr), testbed.NodeIP, errOrOK(dnsErr), dbAddr, errOrOK(dbErr))
	if podErr != nil || dnsErr == nil || dbErr == nil {
		t.Fatalf("egress to pods only: want pods reachable and the node IP not; got pod %v, DNS %v, db %v", podErr, dnsErr, dbErr)
	}
	podsOnly.Spec.Egress[0].To = append(podsOnly.Spec.Egress[0].To,
		networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: testbed.NodeIP + "/32"}})
	if _, err := cs.NetworkingV1().NetworkPolicies(ns).Update(ctx, podsOnly, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually("client egress with the node IP", func() error {
		if _, err := exec1("client", "resolve", dnsName); err != nil {
			return err
		}
		_, err := exec1("client", "dial", dbAddr)
		return err
	})
	t.Logf("with ipBlock %s/32 added: DNS and PostgreSQL answer again", testbed.NodeIP)
	dumpRouterState(t, cs)
}

func errOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return "blocked (" + err.Error() + ")"
}

// dumpRouterState logs kube-router's chains and ipsets, for the record.
func dumpRouterState(t *testing.T, _ *kubernetes.Clientset) {
	out, _ := exec.Command("sh", "-c", "iptables-save -t filter | grep -c -e KUBE-POD-FW -e KUBE-NWPLCY; ipset list -n | grep -c KUBE-").CombinedOutput()
	t.Logf("kube-router: filter rules on pod/policy chains, ipsets: %s", strings.Join(strings.Fields(string(out)), ", "))
}
