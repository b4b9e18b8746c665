package testbed_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// TestCluster runs the real single node (scripts/cluster) and proves it
// runs workloads the way carrental's services need: a Deployment of a
// locally built image becomes Available, a pod reaches another pod through
// a Service's DNS name, a pod reaches the node's PostgreSQL (the database
// replicas share), a failing exec liveness probe makes the kubelet restart
// the container, and down leaves nothing behind.
//
// CARRENTAL_CLUSTER=1 runs it (root, the packages and tools scripts/cluster
// up installs and builds); CARRENTAL_CLUSTER_REUSE=1 uses the node that is
// already up in CARRENTAL_CLUSTER_DIR (or the default directory) and leaves
// it up, so the final check of down is skipped.
func TestCluster(t *testing.T) {
	if os.Getenv("CARRENTAL_CLUSTER") != "1" {
		t.Skip("CARRENTAL_CLUSTER=1 runs a real node (root; see scripts/cluster)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	n, cs, finish := upNode(ctx, t)
	defer finish()

	// A locally built image, never pulled.
	image := loadTestApp(ctx, t, n, "t")
	ns := testNamespace(ctx, t, cs, "cluster-test")
	start := time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, webDeployment(image), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(ctx, t, cs, ns, "web", 2, 3*time.Minute)
	t.Logf("Deployment web: 2/2 Available %.1fs after create", time.Since(start).Seconds())

	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 2 {
		t.Fatalf("pods: %v %v", pods, err)
	}
	a, b := pods.Items[0].Name, pods.Items[1].Name

	// Pod to pod through the Service's DNS name: kube-proxy picks an
	// endpoint at random, so ask until the other pod answers. Then the
	// short name, resolved through the pod's search path.
	kubectl := func(args ...string) (string, error) {
		full := append([]string{"--kubeconfig", n.Kubeconfig(), "-n", ns}, args...)
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, n.Tools.Kubectl, full...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if err != nil {
			return out.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errb.String())
		}
		return out.String(), nil
	}
	fqdn := fmt.Sprintf("http://web.%s.svc.cluster.local/hostname", ns)
	reached := false
	var last string
	for i := 0; i < 40 && !reached; i++ {
		out, err := kubectl("exec", a, "--", "/testapp", "fetch", fqdn)
		if err != nil {
			last = err.Error()
			time.Sleep(500 * time.Millisecond)
			continue
		}
		last = out
		reached = out == b
	}
	if !reached {
		t.Fatalf("pod %s never reached pod %s through %s; last answer: %s", a, b, fqdn, last)
	}
	t.Logf("pod %s reached pod %s through %s", a, b, fqdn)
	if out, err := kubectl("exec", a, "--", "/testapp", "fetch", "http://web/hostname"); err != nil || (out != a && out != b) {
		t.Fatalf("short name web from pod %s: %q %v", a, out, err)
	}
	// And a Service of another namespace, the API server's, by its short
	// cross-namespace name (kubernetes.default).
	if out, err := kubectl("exec", a, "--", "/testapp", "fetch", "https://kubernetes.default/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		// The pod does not trust the cluster CA from its own image, so the
		// TLS handshake must fail on the certificate: that proves DNS and
		// the ClusterIP path to the API server worked.
		t.Fatalf("kubernetes.default from a pod: want a certificate error after connecting, got %q %v", out, err)
	}

	// The node's PostgreSQL: its URL on file and on the Node, the database
	// there, reachable from the host and from a pod (through the bridge to
	// the node IP, admitted by pg_hba.conf for the pod range).
	if b, err := os.ReadFile(filepath.Join(n.Dir, "database-url")); err != nil || strings.TrimSpace(string(b)) != n.DatabaseURL() {
		t.Fatalf("database-url: %q %v, want %s", b, err, n.DatabaseURL())
	}
	if want := "postgres://postgres@10.250.0.1:5432/carrental?sslmode=disable"; n.DatabaseURL() != want {
		t.Fatalf("DatabaseURL %s, want %s", n.DatabaseURL(), want)
	}
	if out, err := kubectl("exec", a, "--", "/testapp", "sql", n.DatabaseURL()); err != nil || out != "carrental" {
		t.Fatalf("PostgreSQL from pod %s: %q %v", a, out, err)
	}
	t.Logf("pod %s reached %s", a, n.DatabaseURL())

	// Liveness: remove the file the exec probe checks; the kubelet must
	// restart the container.
	restarts := func() int32 {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, a, metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return -1
		}
		return p.Status.ContainerStatuses[0].RestartCount
	}
	r0 := restarts()
	if _, err := kubectl("exec", a, "--", "/testapp", "unhealthy"); err != nil {
		t.Fatal(err)
	}
	failed := time.Now()
	for restarts() <= r0 {
		if time.Since(failed) > 2*time.Minute {
			t.Fatalf("pod %s not restarted 2m after its liveness file was removed (restartCount %d)", a, restarts())
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("liveness: pod %s restarted (restartCount %d -> %d) %.1fs after its liveness file was removed",
		a, r0, restarts(), time.Since(failed).Seconds())
	waitAvailable(ctx, t, cs, ns, "web", 2, 2*time.Minute)
}

func webDeployment(image string) *appsv1.Deployment {
	two := int32(2)
	yes, no := true, false
	uid := int64(65532)
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &two,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid},
					Containers: []corev1.Container{{
						Name:            "web",
						Image:           image,
						ImagePullPolicy: corev1.PullNever,
						Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						SecurityContext: &corev1.SecurityContext{
							ReadOnlyRootFilesystem:   &yes,
							AllowPrivilegeEscalation: &no,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1,
						},
						LivenessProbe: &corev1.Probe{
							ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/testapp", "probe"}}},
							PeriodSeconds:    2,
							FailureThreshold: 2,
						},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
					}},
					Volumes: []corev1.Volume{{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
				},
			},
		},
	}
}

func waitAvailable(ctx context.Context, t *testing.T, cs *kubernetes.Clientset, ns, name string, replicas int32, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas == replicas && d.Status.UpdatedReplicas == replicas {
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			var states []string
			for _, p := range pods.Items {
				states = append(states, fmt.Sprintf("%s %s %+v", p.Name, p.Status.Phase, p.Status.ContainerStatuses))
			}
			evs, _ := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
			for _, e := range evs.Items {
				states = append(states, fmt.Sprintf("event %s %s: %s", e.InvolvedObject.Name, e.Reason, e.Message))
			}
			t.Fatalf("deployment %s not Available after %s: %v\n%s", name, within, err, strings.Join(states, "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

type proc struct {
	pid             int
	cmdline, cgroup string
}

func procs() []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cl) == 0 {
			continue
		}
		cg, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		p := proc{pid: pid, cmdline: strings.ReplaceAll(string(cl), "\x00", " ")}
		for _, l := range strings.Split(string(cg), "\n") {
			if f := strings.SplitN(l, ":", 3); len(f) == 3 && strings.Contains(f[1], "memory") {
				p.cgroup = f[2]
			}
		}
		out = append(out, p)
	}
	return out
}

func mounts() []string {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var ms []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 {
			ms = append(ms, f[4])
		}
	}
	return ms
}

// logWriter shows the node's progress in the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
