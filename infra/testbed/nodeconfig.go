package testbed

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// The components' configuration files and command lines. Every path is in
// the state directory: nothing reads /etc/containerd, /etc/cni, /opt/cni or
// /var/lib/kubelet, so another runtime or cluster on the machine is neither
// used nor disturbed.

func (n *Node) apiURL() string { return fmt.Sprintf("https://%s:%d", NodeIP, APIPort) }

func (n *Node) writeConfigs() error {
	if err := ensurePKI(filepath.Join(n.Dir, "pki")); err != nil {
		return err
	}
	for file, stem := range map[string]string{
		"admin.kubeconfig":              "admin",
		"controller-manager.kubeconfig": "controller-manager",
		"scheduler.kubeconfig":          "scheduler",
		"kubelet.kubeconfig":            "kubelet-client",
		"kube-proxy.kubeconfig":         "kube-proxy",
		"coredns.kubeconfig":            "coredns",
		"kube-router.kubeconfig":        "kube-router",
	} {
		if err := writeKubeconfig(filepath.Join(n.Dir, file), filepath.Join(n.Dir, "pki"), n.apiURL(), stem); err != nil {
			return err
		}
	}
	files := map[string]string{
		"containerd.toml":                          n.containerdConfig(),
		"cni/net.d/10-" + CNINetwork + ".conflist": n.cniConfig(),
		"kubelet.yaml":                             n.kubeletConfig(),
		"kube-proxy.yaml":                          n.kubeProxyConfig(),
		"Corefile":                                 n.corefile(),
	}
	for name, content := range files {
		if err := writeIfChanged(filepath.Join(n.Dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeIfChanged leaves a file with the same content alone: kube-proxy
// watches its configuration file and exits when it is written to, so a
// second `up` must not touch the files of running components.
func writeIfChanged(path string, content []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	return os.WriteFile(path, content, mode)
}

// containerdConfig: a containerd of our own (root, state, socket, CNI
// directories), configured for this VM:
//   - restrict_oom_score_adj: the VM's capability bounding set lacks
//     CAP_SYS_RESOURCE, so runc cannot give a sandbox the negative
//     oom_score_adj the kubelet asks for ("can't get final child's PID from
//     pipe: EOF"); this caps it at containerd's own score instead.
//   - SystemdCgroup = false: the kubelet's cgroupDriver is cgroupfs (no
//     systemd here).
//   - netns_mounts_under_state_dir and the runc Root keep pod network
//     namespaces and runc's state out of /run.
//   - the opt plugin would create /opt/containerd.
func (n *Node) containerdConfig() string {
	d := filepath.Join(n.Dir, "containerd")
	return fmt.Sprintf(`version = 2
root = %q
state = %q

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = %q

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = %q
  conf_dir = %q
  max_conf_num = 1
`, filepath.Join(d, "root"), filepath.Join(d, "state"), n.socket(), filepath.Join(d, "opt"),
		PauseImage, filepath.Join(d, "runc"), n.Tools.CNIDir, filepath.Join(n.Dir, "cni", "net.d"))
}

// cniConfig: one bridge, host-local addresses from PodCIDR (kept in the
// state directory, not /var/lib/cni/networks), masquerade for traffic
// leaving the pod range, hairpin so a pod reaches itself through its
// Service, portmap for hostPort. Backends are pinned to iptables so that
// down's cleanup knows where the rules are.
func (n *Node) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %q,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %q,
      "isGateway": true,
      "ipMasq": true,
      "ipMasqBackend": "iptables",
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": %q}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": %q
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}, "backend": "iptables"}
  ]
}
`, CNINetwork, BridgeName, PodCIDR, filepath.Join(n.Dir, "cni", "ipam"))
}

// kubeletConfig: the settings this VM needs (cgroupfs on cgroup v1, swap
// tolerated, no negative OOM score), webhook authentication and
// authorization against the API server, a serving certificate our CA
// signed (metrics-server verifies it with the cluster CA it has in-cluster),
// cluster DNS, and pod logs in the state directory.
//
// syncFrequency 10s (default 1m): the kubelet rewrites a pod's mounted
// ConfigMaps and Secrets when it syncs the pod, at the latest every
// syncFrequency (the watch brings the new object at once; the files follow
// at the next sync). At 1m a change of the ConfigMap rental-region would
// take up to a minute to reach the rental pods, which re-read their
// CONFIG_DIR every 2 s; at 10s it takes seconds. The price is a status
// sync of each pod every 10 s, nothing on a node of a few dozen pods.
func (n *Node) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[1]s
port: 10250
readOnlyPort: 0
healthzBindAddress: %[1]s
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %[2]q}
authorization:
  mode: Webhook
tlsCertFile: %[3]q
tlsPrivateKeyFile: %[4]q
rotateCertificates: false
serverTLSBootstrap: false
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
oomScoreAdj: 0
syncFrequency: 10s
containerRuntimeEndpoint: unix://%[5]s
clusterDNS: [%[6]q]
clusterDomain: %[7]s
resolvConf: /etc/resolv.conf
podLogsDir: %[8]q
evictionHard:
  memory.available: 100Mi
  nodefs.available: 5%%
  imagefs.available: 5%%
  nodefs.inodesFree: 5%%
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
`, NodeIP, n.pki("ca.crt"), n.pki("kubelet-serving.crt"), n.pki("kubelet-serving.key"), n.socket(),
		DNSServiceIP, ClusterDomain, filepath.Join(n.Dir, "pod-logs"))
}

// kubeProxyConfig: iptables mode; NodePorts only on the node IP (not on
// 127.0.0.1, which would need route_localnet, nor the machine's other
// addresses); no conntrack sysctl changes (maxPerCore 0 and zero timeouts
// leave the kernel's values alone; the VM may not allow changing them).
func (n *Node) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %q
hostnameOverride: %s
mode: iptables
clusterCIDR: %s
healthzBindAddress: %s:10256
metricsBindAddress: %s:10249
nodePortAddresses: [primary]
oomScoreAdj: 0
iptables:
  localhostNodePorts: false
  masqueradeAll: false
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`, filepath.Join(n.Dir, "kube-proxy.kubeconfig"), NodeName, PodCIDR, NodeIP, NodeIP)
}

// corefile: CoreDNS on the host, bound to the node IP only; the kube-dns
// Service's EndpointSlice points there.
func (n *Node) corefile() string {
	return fmt.Sprintf(`.:53 {
    bind %s
    errors
    kubernetes %s in-addr.arpa ip6.arpa {
        kubeconfig %s carrental-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    forward . /etc/resolv.conf
    cache 30
    loop
    loadbalance
}
`, NodeIP, ClusterDomain, filepath.Join(n.Dir, "coredns.kubeconfig"))
}

func (n *Node) etcdArgv() []string {
	p := n.pki
	return []string{n.Tools.Etcd,
		"--name", "carrental",
		"--data-dir", filepath.Join(n.Dir, "etcd"),
		"--listen-client-urls", "https://" + etcdClient,
		"--advertise-client-urls", "https://" + etcdClient,
		"--listen-peer-urls", "https://" + etcdPeer,
		"--initial-advertise-peer-urls", "https://" + etcdPeer,
		"--initial-cluster", "carrental=https://" + etcdPeer,
		"--cert-file", p("etcd-server.crt"), "--key-file", p("etcd-server.key"),
		"--trusted-ca-file", p("etcd-ca.crt"), "--client-cert-auth",
		"--peer-cert-file", p("etcd-server.crt"), "--peer-key-file", p("etcd-server.key"),
		"--peer-trusted-ca-file", p("etcd-ca.crt"), "--peer-client-cert-auth",
		"--log-level", "warn",
	}
}

func (n *Node) apiserverArgv() []string {
	p := n.pki
	return []string{n.Tools.KubeAPIServer,
		"--advertise-address", NodeIP,
		"--bind-address", NodeIP, // where the host and, through the kubernetes Service, pods reach it
		"--secure-port", fmt.Sprint(APIPort),
		"--etcd-servers", "https://" + etcdClient,
		"--etcd-cafile", p("etcd-ca.crt"), "--etcd-certfile", p("apiserver-etcd-client.crt"), "--etcd-keyfile", p("apiserver-etcd-client.key"),
		"--tls-cert-file", p("apiserver.crt"), "--tls-private-key-file", p("apiserver.key"),
		"--client-ca-file", p("ca.crt"),
		"--kubelet-client-certificate", p("apiserver-kubelet-client.crt"), "--kubelet-client-key", p("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority", p("ca.crt"),
		"--kubelet-preferred-address-types", "InternalIP",
		"--authorization-mode", "Node,RBAC",
		"--enable-admission-plugins", "NodeRestriction",
		"--allow-privileged=true",
		"--service-account-issuer", "https://kubernetes.default.svc." + ClusterDomain,
		"--service-account-key-file", p("sa.pub"),
		"--service-account-signing-key-file", p("sa.key"),
		"--service-cluster-ip-range", ServiceCIDR,
		// The aggregation layer (metrics-server's APIService): the API
		// server proxies as front-proxy-client, and routes to the
		// endpoint, not the ClusterIP (it has no kube-proxy of its own).
		"--requestheader-client-ca-file", p("front-proxy-ca.crt"),
		"--requestheader-allowed-names", "front-proxy-client",
		"--requestheader-username-headers", "X-Remote-User",
		"--requestheader-group-headers", "X-Remote-Group",
		"--requestheader-extra-headers-prefix", "X-Remote-Extra-",
		"--proxy-client-cert-file", p("front-proxy-client.crt"), "--proxy-client-key-file", p("front-proxy-client.key"),
		"--enable-aggregator-routing=true",
		"--profiling=false",
		"--v", "1",
	}
}

func (n *Node) controllerManagerArgv() []string {
	p := n.pki
	kc := filepath.Join(n.Dir, "controller-manager.kubeconfig")
	return []string{n.Tools.KubeControllerManager,
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", NodeIP, "--secure-port", "10257",
		"--client-ca-file", p("ca.crt"), "--requestheader-client-ca-file", p("front-proxy-ca.crt"),
		// Every default controller (serviceaccount-token, replicaset,
		// deployment, endpointslice, HPA, statefulset, job, garbage
		// collector, ...), each with its own service account.
		"--controllers", "*",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file", p("sa.key"),
		"--root-ca-file", p("ca.crt"), // published to pods as kube-root-ca.crt
		// CSRs (kubelet serving certificates, if a kubelet asks) are signed by the cluster CA.
		"--cluster-signing-cert-file", p("ca.crt"), "--cluster-signing-key-file", p("ca.key"),
		"--service-cluster-ip-range", ServiceCIDR,
		"--allocate-node-cidrs=false", // host-local IPAM hands out pod addresses
		"--cluster-name", "carrental",
		"--flex-volume-plugin-dir", filepath.Join(n.Dir, "volume-plugins"),
		"--leader-elect=false",
		"--v", "1",
	}
}

func (n *Node) schedulerArgv() []string {
	kc := filepath.Join(n.Dir, "scheduler.kubeconfig")
	return []string{n.Tools.KubeScheduler,
		"--kubeconfig", kc, "--authentication-kubeconfig", kc, "--authorization-kubeconfig", kc,
		"--bind-address", NodeIP, "--secure-port", "10259",
		"--leader-elect=false",
		"--v", "1",
	}
}

func (n *Node) kubeletArgv() []string {
	return []string{n.Tools.Kubelet,
		"--config", filepath.Join(n.Dir, "kubelet.yaml"),
		"--kubeconfig", filepath.Join(n.Dir, "kubelet.kubeconfig"),
		"--root-dir", filepath.Join(n.Dir, "kubelet"),
		"--cert-dir", filepath.Join(n.Dir, "kubelet", "pki"),
		"--volume-plugin-dir", filepath.Join(n.Dir, "volume-plugins"),
		"--hostname-override", NodeName,
		"--node-ip", NodeIP,
		"--v", "1",
	}
}

func (n *Node) kubeProxyArgv() []string {
	return []string{n.Tools.KubeProxy, "--config", filepath.Join(n.Dir, "kube-proxy.yaml"), "--v", "1"}
}

// bootstrapObjects creates what the node needs in the API beyond Kubernetes'
// own bootstrap policy: read access for CoreDNS, and the kube-dns Service
// with an EndpointSlice pointing at CoreDNS on the node IP (a Service with
// no selector: CoreDNS is a host process, not a pod).
func bootstrapObjects(ctx context.Context, cs *kubernetes.Clientset) error {
	// Created once; a second `up` finds them.
	create := func(err error) error {
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: corednsUser},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}, metav1.CreateOptions{}); create(err) != nil {
		return err
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: corednsUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: corednsUser},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: corednsUser}},
	}, metav1.CreateOptions{}); create(err) != nil {
		return err
	}
	udp, tcp := corev1.ProtocolUDP, corev1.ProtocolTCP
	// Looked up first: creating it again fails on its ClusterIP (already
	// allocated) before the name clash is noticed.
	if _, err := cs.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	if _, err := cs.CoreV1().Services("kube-system").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Labels: map[string]string{"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: DNSServiceIP,
			Ports: []corev1.ServicePort{
				{Name: "dns", Protocol: udp, Port: 53, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Protocol: tcp, Port: 53, TargetPort: intstr.FromInt32(53)},
			},
		},
	}, metav1.CreateOptions{}); create(err) != nil {
		return err
	}
	ready := true
	port := int32(53)
	names := []string{"dns", "dns-tcp"}
	_, err := cs.DiscoveryV1().EndpointSlices("kube-system").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-host", Labels: map[string]string{
			discoveryv1.LabelServiceName: "kube-dns",
			discoveryv1.LabelManagedBy:   "carrental-cluster",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{NodeIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports: []discoveryv1.EndpointPort{
			{Name: &names[0], Protocol: &udp, Port: &port},
			{Name: &names[1], Protocol: &tcp, Port: &port},
		},
	}, metav1.CreateOptions{})
	return create(err)
}
