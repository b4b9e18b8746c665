package testbed_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/carrental/carrental/infra/testbed"
	"github.com/carrental/carrental/svc/contract"
)

// TestLocalStackUpPreviewUpdateDestroy drives the real engine over the
// local stack (scripts/testbed sets CARRENTAL_TESTBED_STACK=1 after
// scripts/build-tools has built the Pulumi CLI and the provider).
func TestLocalStackUpPreviewUpdateDestroy(t *testing.T) {
	if os.Getenv("CARRENTAL_TESTBED_STACK") != "1" {
		t.Skip("set CARRENTAL_TESTBED_STACK=1 to run the engine over the local stack (needs the Pulumi tools)")
	}
	cache := os.Getenv("CARRENTAL_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "carrental")
	}
	root := filepath.Join(cache, "tools")
	for _, b := range []string{"pulumi", "pulumi-resource-kubernetes"} {
		if _, err := os.Stat(filepath.Join(root, "bin", b)); err != nil {
			if os.Getenv("CARRENTAL_TESTBED") == "1" {
				t.Fatalf("%s not built (scripts/build-tools): %v", b, err)
			}
			t.Skipf("%s not built (scripts/build-tools)", b)
		}
	}
	c := startCluster(t)
	istioCharts, metricsServerChart, err := testbed.OfflineCharts()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	log, _ := os.Create(filepath.Join(t.TempDir(), "pulumi.log"))
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("pulumi output (tail):\n%s", b)
		}
	}()
	s, err := testbed.OpenLocalStack(ctx, testbed.LocalStackOptions{
		ToolsRoot: root, StateDir: t.TempDir(), Kubeconfig: c.Kubeconfig,
		Config: map[string]string{
			"carrental:target":                  "local",
			"carrental:authMode":                "off", // no kubelet, no requests: nothing to authenticate
			"carrental:kubeconfig":              c.Kubeconfig,
			"carrental:skipAwait":               "true",    // no kubelet: nothing ever becomes ready
			"carrental:imageTag":                "testbed", // no kubelet pulls it
			"carrental:natsMode":                "statefulset",
			"carrental:resilience":              "writeup", // the write-up's pool, read back below
			"carrental:istioCharts.path":        istioCharts,
			"carrental:metricsServerChart.path": metricsServerChart,
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	up, err := s.Stack.Up(ctx, optup.ProgressStreams(log))
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	t.Logf("up: %v in %s", *up.Summary.ResourceChanges, time.Since(start).Round(time.Second))

	// Read back what the API server stored.
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	checkWriteUpValues(ctx, t, cs, dyn)
	scoreWorkloads(ctx, t, cs, filepath.Join(root, "bin", "kube-score"))

	start = time.Now()
	pre, err := s.Stack.Preview(ctx, optpreview.ProgressStreams(log))
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	t.Logf("no-op preview: %v in %s", pre.ChangeSummary, time.Since(start).Round(time.Second))
	for op, n := range pre.ChangeSummary {
		if op != "same" && op != "read" && n > 0 { // the ingress Service is read every run
			t.Errorf("a preview right after up plans %d %s", n, op)
		}
	}

	for _, change := range []struct {
		key, value string
		read       func() (any, error)
		want       any
	}{
		{"carrental:autoscaling.management.maxReplicas", "12", func() (any, error) {
			h, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "management", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return h.Spec.MaxReplicas, nil
		}, int32(12)},
		{"carrental:rentalRegion", "busan", func() (any, error) {
			cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "rental-region", metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return cm.Data["region"], nil
		}, "busan"},
	} {
		if err := s.Set(ctx, change.key, change.value); err != nil {
			t.Fatal(err)
		}
		up, err := s.Stack.Up(ctx, optup.ProgressStreams(log))
		if err != nil {
			t.Fatalf("up after %s: %v", change.key, err)
		}
		changes := *up.Summary.ResourceChanges
		if changes["update"] != 1 || changes["create"]+changes["delete"]+changes["replace"] != 0 {
			t.Errorf("%s=%s changed %v, want exactly one update", change.key, change.value, changes)
		}
		if got, err := change.read(); err != nil || got != change.want {
			t.Errorf("%s: read back %v (%v), want %v", change.key, got, err, change.want)
		}
	}

	if _, err := s.Stack.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	// A namespace is gone once the controller manager has emptied it;
	// until then it is Terminating, which is destroy's doing too.
	left, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatal(err)
	case left.DeletionTimestamp == nil:
		t.Errorf("the app namespace survived destroy: %v", left.Status)
	}
}

const ns = "carrental"

// checkWriteUpValues reads every object that carries a value of the
// write-up back from the API server and compares it with the write-up's
// number, spelled here as a literal on purpose.
func checkWriteUpValues(ctx context.Context, t *testing.T, cs kubernetes.Interface, dyn dynamic.Interface) {
	t.Helper()
	get := metav1.GetOptions{}
	namespace, err := cs.CoreV1().Namespaces().Get(ctx, ns, get)
	if err != nil {
		t.Fatal(err)
	}
	if namespace.Labels["istio-injection"] != "enabled" {
		t.Errorf("namespace labels %v", namespace.Labels)
	}
	for _, svc := range contract.Services() {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, string(svc), get)
		if err != nil {
			t.Fatal(err)
		}
		c := d.Spec.Template.Spec.Containers[0]
		live := c.LivenessProbe
		if live == nil || live.Exec == nil || strings.Join(live.Exec.Command, " ") != "/ko-app/"+string(svc)+" probe" ||
			live.InitialDelaySeconds != 3 || live.TimeoutSeconds != 2 || live.PeriodSeconds != 5 || live.FailureThreshold != 5 {
			t.Errorf("%s liveness %+v", svc, live)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s readiness %+v", svc, c.ReadinessProbe)
		}
		if got := c.Resources.Requests.Cpu().String(); got != "200m" {
			t.Errorf("%s cpu request %s", svc, got)
		}
		if got := c.Resources.Limits.Cpu().String(); got != "500m" {
			t.Errorf("%s cpu limit %s", svc, got)
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s security context %+v", svc, sc)
		}
		if _, err := cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, string(svc), get); err != nil {
			t.Errorf("%s network policy: %v", svc, err)
		}
	}

	h, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "management", get)
	if err != nil {
		t.Fatal(err)
	}
	if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 10 || len(h.Spec.Metrics) != 1 ||
		h.Spec.Metrics[0].Resource.Target.AverageUtilization == nil || *h.Spec.Metrics[0].Resource.Target.AverageUtilization != 20 {
		t.Errorf("hpa %+v", h.Spec)
	}

	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "rental-region", get)
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["country"] != "korea" || cm.Data["region"] != "seoul" {
		t.Errorf("configmap %v", cm.Data)
	}
	rental, err := cs.AppsV1().Deployments(ns).Get(ctx, "rental", get)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range rental.Spec.Template.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			env[e.Name] = e.ValueFrom.ConfigMapKeyRef.Name + "/" + e.ValueFrom.ConfigMapKeyRef.Key
		}
	}
	if env["COUNTRY"] != "rental-region/country" || env["REGION"] != "rental-region/region" {
		t.Errorf("rental env from the ConfigMap %v", env)
	}
	mounted := false
	for _, m := range rental.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || (m.MountPath == "/config" && m.ReadOnly)
	}
	if !mounted {
		t.Error("no read-only /config mount on rental")
	}

	istio := func(group, resource, name string) map[string]any {
		t.Helper()
		gvr := schema.GroupVersionResource{Group: group, Version: "v1", Resource: resource}
		u, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, name, get)
		if err != nil {
			t.Fatalf("%s %s: %v", resource, name, err)
		}
		return u.Object
	}
	dr := istio("networking.istio.io", "destinationrules", "management")
	for path, want := range map[string]any{
		"spec.trafficPolicy.connectionPool.tcp.maxConnections":            int64(1),
		"spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests":  int64(1),
		"spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection": int64(1),
		"spec.trafficPolicy.outlierDetection.consecutive5xxErrors":        int64(5),
		"spec.trafficPolicy.outlierDetection.interval":                    "10s",
		"spec.trafficPolicy.outlierDetection.baseEjectionTime":            "30s",
		"spec.trafficPolicy.outlierDetection.maxEjectionPercent":          int64(100),
	} {
		if got, _, _ := unstructured.NestedFieldNoCopy(dr, strings.Split(path, ".")...); got != want {
			t.Errorf("destination rule %s = %v (%T), want %v", path, got, got, want)
		}
	}
	vs := istio("networking.istio.io", "virtualservices", "reservation")
	routes, _, _ := unstructured.NestedSlice(vs, "spec", "http")
	if len(routes) == 0 {
		t.Fatalf("virtual service %v", vs["spec"])
	}
	retries, _, _ := unstructured.NestedMap(routes[0].(map[string]any), "retries")
	// The write-up's 3 attempts of 2s each; retried on server errors but
	// never on 503, the answer of a pool or a service shedding load
	// (retrying it would multiply the overload it reports).
	if on, _ := retries["retryOn"].(string); on != "500,502,504,connect-failure,refused-stream,reset" || retries["attempts"] != int64(3) || retries["perTryTimeout"] != "2s" {
		t.Errorf("virtual service retries %v", retries)
	}
	pa := istio("security.istio.io", "peerauthentications", "default")
	if mode, _, _ := unstructured.NestedString(pa, "spec", "mtls", "mode"); mode != "STRICT" {
		t.Errorf("peer authentication %v", pa["spec"])
	}
}

// scoreWorkloads runs kube-score over every workload the stack installs,
// the app's and the add-ons', and fails on any CRITICAL finding that
// addOnExemptions does not name.
func scoreWorkloads(ctx context.Context, t *testing.T, cs kubernetes.Interface, bin string) {
	t.Helper()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kube-score not built (scripts/build-tools kube-score): %v", err)
	}
	for _, namespace := range []string{ns, "istio-system", "istio-ingress", "kube-system"} {
		manifests, err := testbed.Workloads(ctx, cs, namespace)
		if err != nil {
			t.Fatal(err)
		}
		score, err := testbed.KubeScore(ctx, bin, manifests)
		if err != nil {
			t.Fatal(err)
		}
		failing, stale := score.Unexempted(namespace, addOnExemptions)
		t.Logf("kube-score %s: %d objects, %d critical (%d exempted), %d warnings", namespace,
			strings.Count(string(manifests), "---\n"), len(score.Critical), len(score.Critical)-len(failing), len(score.Warning))
		for _, line := range failing {
			t.Errorf("kube-score: %s", line)
		}
		for _, e := range stale {
			t.Errorf("kube-score: exemption %s/%s %q matches nothing: remove it", e.Namespace, e.Object, e.Finding)
		}
		for _, line := range score.Warning {
			t.Logf("kube-score: %s", line)
		}
	}
}
