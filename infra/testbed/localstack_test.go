package testbed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/carrental/carrental/infra/testbed"
)

// Charts for the offline run, pinned: Istio's live in the istio.io/istio
// module (no tagged versions exist), metrics-server's in its module.
const (
	istioModule         = "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"
	metricsServerModule = "sigs.k8s.io/metrics-server@v0.9.0"
)

func moduleDir(t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", mod, err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		t.Fatalf("go mod download %s: %s", mod, out)
	}
	return info.Dir
}

func (k kube) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	resp, err := k.c.Client().Get(k.c.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

type kube struct{ c *testbed.Cluster }

func dig(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch n := v.(type) {
		case map[string]any:
			v = n[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			if i >= len(n) {
				return nil
			}
			v = n[i]
		default:
			return nil
		}
	}
	return v
}

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
	k := kube{c}
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
			"carrental:kubeconfig":              c.Kubeconfig,
			"carrental:skipAwait":               "true", // no kubelet: nothing ever becomes ready
			"carrental:natsMode":                "none", // NATS' chart is not a Go module
			"carrental:istioCharts.path":        filepath.Join(moduleDir(t, istioModule), "manifests", "charts"),
			"carrental:metricsServerChart.path": filepath.Join(moduleDir(t, metricsServerModule), "charts", "metrics-server"),
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
	_, ns := k.get(t, "/api/v1/namespaces/carrental")
	if dig(ns, "metadata.labels.istio-injection") != "enabled" {
		t.Errorf("namespace labels %v", dig(ns, "metadata.labels"))
	}
	_, dep := k.get(t, "/apis/apps/v1/namespaces/carrental/deployments/management")
	live := dig(dep, "spec.template.spec.containers.0.livenessProbe")
	for path, want := range map[string]any{"initialDelaySeconds": 3.0, "timeoutSeconds": 2.0, "periodSeconds": 5.0, "failureThreshold": 5.0} {
		if got := dig(live, path); got != want {
			t.Errorf("liveness %s = %v, want %v", path, got, want)
		}
	}
	if got := dig(dep, "spec.template.spec.containers.0.resources.limits.cpu"); got != "500m" {
		t.Errorf("cpu limit %v", got)
	}
	_, hpa := k.get(t, "/apis/autoscaling/v2/namespaces/carrental/horizontalpodautoscalers/management")
	if dig(hpa, "spec.maxReplicas") != 10.0 || dig(hpa, "spec.minReplicas") != 2.0 {
		t.Errorf("hpa %v", dig(hpa, "spec"))
	}
	_, cm := k.get(t, "/api/v1/namespaces/carrental/configmaps/rental-region")
	if dig(cm, "data.country") != "korea" || dig(cm, "data.region") != "seoul" {
		t.Errorf("configmap %v", dig(cm, "data"))
	}
	_, dr := k.get(t, "/apis/networking.istio.io/v1/namespaces/carrental/destinationrules/management")
	if dig(dr, "spec.trafficPolicy.outlierDetection.consecutive5xxErrors") != 5.0 {
		t.Errorf("destination rule %v", dig(dr, "spec"))
	}
	_, vs := k.get(t, "/apis/networking.istio.io/v1/namespaces/carrental/virtualservices/reservation")
	if on, _ := dig(vs, "spec.http.0.retries.retryOn").(string); !strings.Contains(on, "5xx") {
		t.Errorf("virtual service %v", dig(vs, "spec"))
	}
	_, pa := k.get(t, "/apis/security.istio.io/v1/namespaces/carrental/peerauthentications/default")
	if dig(pa, "spec.mtls.mode") != "STRICT" {
		t.Errorf("peer authentication %v", dig(pa, "spec"))
	}

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
		key, value, path, field string
		want                    any
	}{
		{"carrental:autoscaling.management.maxReplicas", "12", "/apis/autoscaling/v2/namespaces/carrental/horizontalpodautoscalers/management", "spec.maxReplicas", 12.0},
		{"carrental:rentalRegion", "busan", "/api/v1/namespaces/carrental/configmaps/rental-region", "data.region", "busan"},
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
		if _, obj := k.get(t, change.path); dig(obj, change.field) != change.want {
			t.Errorf("%s: %s = %v, want %v", change.key, change.field, dig(obj, change.field), change.want)
		}
	}

	if _, err := s.Stack.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	// No controller manager runs here, so a deleted namespace stays
	// Terminating: its deletion must have been requested.
	status, ns := k.get(t, "/api/v1/namespaces/carrental")
	if status != http.StatusNotFound && dig(ns, "metadata.deletionTimestamp") == nil {
		t.Errorf("the app namespace survived destroy: %v", dig(ns, "status"))
	}
}
