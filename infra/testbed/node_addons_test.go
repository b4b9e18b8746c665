package testbed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/carrental/carrental/infra/testbed"
)

// TestNodeAddons runs what the local stack adds to the node, as pods of
// images built here (scripts/build-images --addons) under the names their
// deployments ask for, never pulled, as user 65532 with a read-only root
// filesystem:
//   - NATS with JetStream: a stream accepts a message; /healthz with
//     js-enabled-only answers;
//   - metrics-server, deployed as its chart does (APIService, RBAC, no
//     --kubelet-insecure-tls): node and pod metrics are served, which
//     proves it verified the kubelet's serving certificate with the
//     in-cluster CA;
//   - the kubelet's syncFrequency (10s): a ConfigMap change reaches a
//     mounted file within seconds.
//
// CARRENTAL_CLUSTER=1 runs it, on a node of its own (or the one up with
// CARRENTAL_CLUSTER_REUSE=1); CARRENTAL_ADDONS_DIR=DIR loads DIR/addons/*.tar
// instead of building them.
func TestNodeAddons(t *testing.T) {
	if os.Getenv("CARRENTAL_CLUSTER") != "1" {
		t.Skip("CARRENTAL_CLUSTER=1 runs a real node (root; see scripts/cluster)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	n, cs, finish := upNode(ctx, t)
	defer finish()

	// The images: built (cached by ko: seconds when warm) and loaded.
	dir := os.Getenv("CARRENTAL_ADDONS_DIR")
	want := map[string]string{} // name -> ref, as build-images prints them
	if dir == "" {
		d, err := os.MkdirTemp("", "carrental-addons-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(d)
		dir = d
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, "../../scripts/build-images", "--addons", "--out", dir)
		var stderr bytes.Buffer // ko is chatty: shown only on a failure
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("build-images --addons: %v\n%s", err, stderr.Bytes())
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			name, ref, _ := strings.Cut(l, " ")
			want[name] = ref
		}
		t.Logf("add-on images built in %.1fs: %v", time.Since(t0).Seconds(), want)
	}
	tars, _ := filepath.Glob(filepath.Join(dir, "addons", "*.tar"))
	t0 := time.Now()
	names, err := n.Load(ctx, tars...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %v in %.1fs", names, time.Since(t0).Seconds())
	sort.Strings(names)
	natsRef, msRef := "", ""
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, "docker.io/library/nats:"):
			natsRef = name
		case strings.HasPrefix(name, "registry.k8s.io/metrics-server/metrics-server:"):
			msRef = name
		}
	}
	if natsRef == "" || msRef == "" {
		t.Fatalf("loaded %v: want docker.io/library/nats:<v> and registry.k8s.io/metrics-server/metrics-server:<v>", names)
	}
	for _, ref := range want {
		if ref != natsRef && ref != msRef {
			t.Fatalf("build-images printed %s, but the node holds %v", ref, names)
		}
	}

	ns := testNamespace(ctx, t, cs, "addons-test")

	t.Run("nats", func(t *testing.T) { testNATS(ctx, t, cs, ns, natsRef) })
	t.Run("metrics-server", func(t *testing.T) { testMetricsServer(ctx, t, n, cs, ns, msRef) })
	t.Run("configmap-sync", func(t *testing.T) { testConfigMapSync(ctx, t, n, cs, ns) })
}

// upNode brings up a node of the test's own (or reuses the running one)
// and returns a finish func that takes it down and checks nothing is left.
func upNode(ctx context.Context, t *testing.T) (*testbed.Node, *kubernetes.Clientset, func()) {
	t.Helper()
	return upNodeWith(ctx, t, false)
}

// upNodeWith is upNode, with NetworkPolicy enforcement when netpol.
func upNodeWith(ctx context.Context, t *testing.T, netpol bool) (*testbed.Node, *kubernetes.Clientset, func()) {
	t.Helper()
	reuse := os.Getenv("CARRENTAL_CLUSTER_REUSE") == "1"
	before := testbed.SnapshotHost()
	dir := testbed.DefaultNodeDir()
	if !reuse {
		// Not t.TempDir: its removal would run even if down failed and
		// left something mounted below it.
		d, err := os.MkdirTemp("", "carrental-cluster-test-")
		if err != nil {
			t.Fatal(err)
		}
		dir = d
	}
	n, err := testbed.NewNode(dir)
	if err != nil {
		t.Fatal(err)
	}
	n.Out = logWriter{t}
	n.NetworkPolicy = netpol
	finish := func() {
		if reuse {
			return
		}
		t0 := time.Now()
		if err := n.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
			return
		}
		t.Logf("down in %.1fs", time.Since(t0).Seconds())
		// Nothing left: processes, mounts, network namespaces, links,
		// iptables chains and rules, nftables tables, cgroups, sysctls, the
		// lo address, the state directory.
		for _, l := range before.Leftovers(testbed.SnapshotHost()) {
			t.Errorf("left behind: %s", l)
		}
		for _, p := range procs() {
			if strings.Contains(p.cmdline, dir) || strings.HasPrefix(p.cgroup, "/kubepods") {
				t.Errorf("process left behind: %d %s", p.pid, p.cmdline)
			}
		}
		for _, m := range mounts() {
			if strings.HasPrefix(m, dir) || strings.Contains(m, "/run/netns/cni-") {
				t.Errorf("mount left behind: %s", m)
			}
		}
		save, _ := exec.Command("sh", "-c", "iptables-save; ip6tables-save").Output()
		for _, l := range strings.Split(string(save), "\n") {
			if strings.Contains(l, "KUBE-") || strings.Contains(l, "CNI-") {
				t.Errorf("iptables left behind: %s", l)
			}
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("state directory %s left behind", dir)
		}
	}
	tm, err := n.Up(ctx)
	if err != nil {
		finish()
		t.Fatalf("up: %v", err)
	}
	t.Logf("up: API server ready %.1fs, node Ready %.1fs, DNS %.1fs, PostgreSQL %.1fs (already up: %v)",
		tm.APIServerReady.Seconds(), tm.NodeReady.Seconds(), tm.DNSReady.Seconds(), tm.PostgresReady.Seconds(), tm.AlreadyUp)
	cs, err := n.Clientset()
	if err != nil {
		finish()
		t.Fatal(err)
	}
	return n, cs, finish
}

// testNamespace creates a namespace of the test's own, deleted at the end,
// and waits for its default ServiceAccount: the controller manager adds it
// a moment later, and a pod created before it is refused ("serviceaccount
// default not found", seen on a node that came up fast).
func testNamespace(ctx context.Context, t *testing.T, cs kubernetes.Interface, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%100000)
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return ns
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s has no default ServiceAccount after 1m: %v", ns, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// loadTestApp builds the test app's image (internal/testapp, user 65532)
// under a tag of its own and loads it into n; it returns the reference,
// which pods run with ImagePullPolicy Never.
func loadTestApp(ctx context.Context, t *testing.T, n *testbed.Node, tagPrefix string) string {
	t.Helper()
	image := testbed.Image{Ref: fmt.Sprintf("carrental.local/cluster-testapp:%s%d", tagPrefix, time.Now().Unix()),
		Package: "github.com/carrental/carrental/infra/testbed/internal/testapp", Binary: "/testapp",
		Entrypoint: []string{"/testapp", "serve"}, User: "65532:65532"}
	tarPath := filepath.Join(t.TempDir(), "testapp.tar")
	if err := testbed.BuildImage(ctx, image, tarPath); err != nil {
		t.Fatal(err)
	}
	names, err := n.Load(ctx, tarPath)
	if err != nil || len(names) != 1 || names[0] != image.Ref {
		t.Fatalf("load: %v %v", names, err)
	}
	return image.Ref
}

// restricted is the security context every add-on runs with here: the
// image's non-root user 65532, nothing writable but its emptyDirs.
func restricted() (*corev1.PodSecurityContext, *corev1.SecurityContext) {
	yes, no := true, false
	uid := int64(65532)
	return &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		&corev1.SecurityContext{ReadOnlyRootFilesystem: &yes, AllowPrivilegeEscalation: &no,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

func waitPodReady(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, ns, name string, within time.Duration) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					return p
				}
			}
		}
		if time.Now().After(deadline) {
			evs, _ := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
			var lines []string
			for _, e := range evs.Items {
				lines = append(lines, fmt.Sprintf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message))
			}
			logs, _ := cs.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
			t.Fatalf("pod %s not Ready after %s: %v %+v\n%s\nlogs:\n%s", name, within, err, p.Status, strings.Join(lines, "\n"), logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// testNATS: the server binary is the entrypoint (args only), JetStream
// stores in the emptyDir, a stream takes a message.
func testNATS(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, ns, ref string) {
	psc, sc := restricted()
	t0 := time.Now()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nats", Labels: map[string]string{"app": "nats"}},
		Spec: corev1.PodSpec{
			SecurityContext: psc,
			Containers: []corev1.Container{{
				Name: "nats", Image: ref, ImagePullPolicy: corev1.PullNever,
				Args:            []string{"-js", "-sd", "/data", "-m", "8222"},
				SecurityContext: sc,
				Ports:           []corev1.ContainerPort{{Name: "client", ContainerPort: 4222}, {Name: "monitor", ContainerPort: 8222}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/healthz?js-enabled-only=true", Port: intstr.FromInt32(8222)}}, PeriodSeconds: 1},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPodReady(ctx, t, cs, ns, "nats", 2*time.Minute)
	t.Logf("nats Ready %.1fs after create, pod IP %s", time.Since(t0).Seconds(), p.Status.PodIP)

	resp, err := http.Get(fmt.Sprintf("http://%s:8222/healthz?js-enabled-only=true", p.Status.PodIP))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz?js-enabled-only=true: %s", resp.Status)
	}
	nc, err := nats.Connect(fmt.Sprintf("nats://%s:4222", p.Status.PodIP), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ADDONTEST", Subjects: []string{"addontest.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	ack, err := js.Publish(ctx, "addontest.hello", []byte("hi"))
	if err != nil || ack.Stream != "ADDONTEST" || ack.Sequence != 1 {
		t.Fatalf("publish: %+v %v", ack, err)
	}
	t.Logf("nats %s: JetStream stream on /data accepted a message (%s)", nc.ConnectedServerVersion(), ref)
}

// testMetricsServer deploys metrics-server as its chart (3.12.2) does,
// with the chart's default args and no --kubelet-insecure-tls, and waits
// for node and pod metrics through the aggregated API.
func testMetricsServer(ctx context.Context, t *testing.T, n *testbed.Node, cs *kubernetes.Clientset, ns, ref string) {
	psc, sc := restricted()
	version := ref[strings.LastIndex(ref, ":")+1:]

	// It starts and says its version.
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-server-version"},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, SecurityContext: psc,
			Containers: []corev1.Container{{Name: "v", Image: ref, ImagePullPolicy: corev1.PullNever,
				Args: []string{"--version"}, SecurityContext: sc}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "metrics-server-version", metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodSucceeded {
			break
		}
		if err == nil && p.Status.Phase == corev1.PodFailed || time.Now().After(deadline) {
			t.Fatalf("metrics-server --version: %v %+v", err, p.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
	logs, err := cs.CoreV1().Pods(ns).GetLogs("metrics-server-version", &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || strings.TrimSpace(string(logs)) != version {
		t.Fatalf("metrics-server --version printed %q (%v), want %s", logs, err, version)
	}
	t.Logf("metrics-server --version in a pod: %s", strings.TrimSpace(string(logs)))

	// The chart's objects (kube-system, names as the chart's).
	const name = "metrics-server"
	sys := "kube-system"
	objs := []func() error{
		func() error {
			_, err := cs.CoreV1().ServiceAccounts(sys).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:" + name},
				Rules: []rbacv1.PolicyRule{
					{APIGroups: []string{""}, Resources: []string{"nodes/metrics"}, Verbs: []string{"get"}},
					{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "namespaces", "configmaps"}, Verbs: []string{"get", "list", "watch"}},
				}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "system:" + name},
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:" + name},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: sys}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name + ":system:auth-delegator"},
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: sys}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.RbacV1().RoleBindings(sys).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name + "-auth-reader"},
				RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "extension-apiserver-authentication-reader"},
				Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: sys}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			_, err := cs.CoreV1().Services(sys).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name},
					Ports: []corev1.ServicePort{{Name: "https", Port: 443, TargetPort: intstr.FromString("https")}}}}, metav1.CreateOptions{})
			return err
		},
		func() error {
			one := int32(1)
			labels := map[string]string{"app": name}
			_, err := cs.AppsV1().Deployments(sys).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
						ServiceAccountName: name, SecurityContext: psc,
						Containers: []corev1.Container{{Name: name, Image: ref, ImagePullPolicy: corev1.PullNever,
							// The chart's defaultArgs, and nothing else.
							Args: []string{"--secure-port=10250", "--cert-dir=/tmp",
								"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
								"--kubelet-use-node-status-port", "--metric-resolution=15s"},
							Ports:           []corev1.ContainerPort{{Name: "https", ContainerPort: 10250}},
							SecurityContext: sc,
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
								Path: "/readyz", Port: intstr.FromString("https"), Scheme: corev1.URISchemeHTTPS}}, PeriodSeconds: 2},
							VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
						}},
						Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
					}}}}, metav1.CreateOptions{})
			return err
		},
	}
	for _, create := range objs {
		if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	apiServices := dyn.Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"})
	if _, err := apiServices.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1beta1.metrics.k8s.io"},
		"spec": map[string]any{
			"service": map[string]any{"namespace": sys, "name": name, "port": int64(443)},
			"group":   "metrics.k8s.io", "version": "v1beta1",
			// API server -> metrics-server, as the chart has it
			// (apiService.insecureSkipTLSVerify). metrics-server -> kubelet
			// is verified.
			"insecureSkipTLSVerify": true,
			"groupPriorityMinimum":  int64(100), "versionPriority": int64(100),
		},
	}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if os.Getenv("CARRENTAL_CLUSTER_REUSE") == "1" {
		t.Cleanup(func() {
			bg := context.Background()
			_ = apiServices.Delete(bg, "v1beta1.metrics.k8s.io", metav1.DeleteOptions{})
			_ = cs.AppsV1().Deployments(sys).Delete(bg, name, metav1.DeleteOptions{})
			_ = cs.CoreV1().Services(sys).Delete(bg, name, metav1.DeleteOptions{})
			_ = cs.CoreV1().ServiceAccounts(sys).Delete(bg, name, metav1.DeleteOptions{})
			_ = cs.RbacV1().RoleBindings(sys).Delete(bg, name+"-auth-reader", metav1.DeleteOptions{})
			_ = cs.RbacV1().ClusterRoleBindings().Delete(bg, "system:"+name, metav1.DeleteOptions{})
			_ = cs.RbacV1().ClusterRoleBindings().Delete(bg, name+":system:auth-delegator", metav1.DeleteOptions{})
			_ = cs.RbacV1().ClusterRoles().Delete(bg, "system:"+name, metav1.DeleteOptions{})
		})
	}

	// Node metrics come only from a kubelet scrape that verified the
	// kubelet's certificate (https://10.250.0.1:10250, cluster CA).
	t0 := time.Now()
	deadline = time.Now().Add(3 * time.Minute)
	var last string
	for {
		b, err := cs.RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes", testbed.NodeName).DoRaw(ctx)
		if err == nil {
			var nm struct {
				Usage map[string]string `json:"usage"`
			}
			if json.Unmarshal(b, &nm) == nil && nm.Usage["cpu"] != "" && nm.Usage["memory"] != "" {
				t.Logf("node metrics %.1fs after deploy: %v", time.Since(t0).Seconds(), nm.Usage)
				break
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			pods, _ := cs.CoreV1().Pods(sys).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
			var logs []byte
			if len(pods.Items) > 0 {
				logs, _ = cs.CoreV1().Pods(sys).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			}
			t.Fatalf("no node metrics after 3m: %s\nmetrics-server log:\n%s", last, logs)
		}
		time.Sleep(2 * time.Second)
	}
	pods, _ := cs.CoreV1().Pods(sys).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if len(pods.Items) != 1 {
		t.Fatalf("metrics-server pods: %d", len(pods.Items))
	}
	logs, _ = cs.CoreV1().Pods(sys).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	for _, bad := range []string{"x509", "certificate", "tls:"} {
		if bytes.Contains(logs, []byte(bad)) {
			t.Errorf("metrics-server log mentions %q:\n%s", bad, logs)
		}
	}
	// And a pod's, as the HPA reads them.
	deadline = time.Now().Add(time.Minute)
	for {
		b, err := cs.RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", ns, "pods", "nats").DoRaw(ctx)
		if err == nil && bytes.Contains(b, []byte(`"containers"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pod metrics for %s/nats: %s %v", ns, b, err)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("pod metrics served for %s/nats", ns)
}

// testConfigMapSync: with syncFrequency 10s, an updated ConfigMap reaches
// the mounted file within seconds (at the default 1m: up to a minute).
func testConfigMapSync(ctx context.Context, t *testing.T, n *testbed.Node, cs *kubernetes.Clientset, ns string) {
	b, err := cs.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", testbed.NodeName, "proxy", "configz").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var cz struct {
		KubeletConfig struct {
			SyncFrequency string `json:"syncFrequency"`
		} `json:"kubeletconfig"`
	}
	if err := json.Unmarshal(b, &cz); err != nil || cz.KubeletConfig.SyncFrequency != "10s" {
		t.Fatalf("kubelet configz syncFrequency %q (%v), want 10s", cz.KubeletConfig.SyncFrequency, err)
	}

	image := loadTestApp(ctx, t, n, "a")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "rental-region"}, Data: map[string]string{"REGION": "seoul"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	psc, sc := restricted()
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "reader"},
		Spec: corev1.PodSpec{SecurityContext: psc, Containers: []corev1.Container{{
			Name: "reader", Image: image, ImagePullPolicy: corev1.PullNever, SecurityContext: sc,
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
			VolumeMounts:   []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}, {Name: "config", MountPath: "/config"}},
		}}, Volumes: []corev1.Volume{
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: "rental-region"}}}},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodReady(ctx, t, cs, ns, "reader", 2*time.Minute)
	read := func() string {
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, n.Tools.Kubectl, "--kubeconfig", n.Kubeconfig(), "-n", ns, "exec", "reader", "--", "/testapp", "cat", "/config/REGION")
		cmd.Stdout = &out
		_ = cmd.Run()
		return out.String()
	}
	if got := read(); got != "seoul" {
		t.Fatalf("/config/REGION = %q, want seoul", got)
	}
	cm.Data["REGION"] = "busan"
	if _, err := cs.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for read() != "busan" {
		if time.Since(t0) > 40*time.Second {
			t.Fatalf("the ConfigMap change has not reached the pod after 40s (syncFrequency 10s)")
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("ConfigMap change reached the mounted file %.1fs after the update", time.Since(t0).Seconds())
}
