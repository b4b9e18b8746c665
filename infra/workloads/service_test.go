package workloads_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/config"
	"github.com/carrental/carrental/infra/workloads"
	"github.com/carrental/carrental/svc/contract"
)

type mocks struct {
	mu     sync.Mutex
	inputs map[string]map[string]any // by type token
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.inputs[args.TypeToken] = args.Inputs.Mappable()
	m.mu.Unlock()
	return args.Name + "-id", args.Inputs, nil
}

func (m *mocks) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func get(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(path, ".") {
		switch n := v.(type) {
		case map[string]any:
			v = n[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			if i >= len(n) {
				t.Fatalf("%s: index %d of %d", path, i, len(n))
			}
			v = n[i]
		default:
			t.Fatalf("%s: no %s", path, k)
		}
	}
	return v
}

// deploy declares management as the stack does, with the write-up's HPA.
func deploy(t *testing.T) *mocks {
	t.Helper()
	m := &mocks{inputs: map[string]map[string]any{}}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := workloads.NewService(ctx, workloads.ServiceArgs{
			Service: contract.Management, Namespace: pulumi.String("carrental"), Image: pulumi.String("r/management:v1"),
			ImagePullPolicy: "Always", MemoryReq: "64Mi", MemoryLimit: "256Mi",
			Autoscaling: &config.Autoscaling{MinReplicas: 2, MaxReplicas: 10, CPUPercent: 20},
		})
		return err
	}, pulumi.WithMocks("carrental", "test", m))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The write-up's probe and resource numbers, as literals.
func TestWriteUpLivenessAndResources(t *testing.T) {
	m := deploy(t)
	c := get(t, m.inputs["kubernetes:apps/v1:Deployment"], "spec.template.spec.containers.0")
	for path, want := range map[string]any{
		"livenessProbe.exec.command.0":         "/ko-app/management",
		"livenessProbe.exec.command.1":         "probe",
		"livenessProbe.initialDelaySeconds":    3.0,
		"livenessProbe.timeoutSeconds":         2.0,
		"livenessProbe.periodSeconds":          5.0,
		"livenessProbe.failureThreshold":       5.0,
		"readinessProbe.httpGet.path":          "/readyz",
		"resources.requests.cpu":               "200m",
		"resources.limits.cpu":                 "500m",
		"resources.requests.ephemeral-storage": "64Mi",
		"resources.limits.ephemeral-storage":   "256Mi",
		"imagePullPolicy":                      "Always",
	} {
		if got := get(t, c, path); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	h := m.inputs["kubernetes:autoscaling/v2:HorizontalPodAutoscaler"]
	for path, want := range map[string]any{
		"spec.minReplicas": 2.0, "spec.maxReplicas": 10.0,
		"spec.metrics.0.resource.target.averageUtilization": 20.0,
	} {
		if got := get(t, h, path); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("hpa %s = %v, want %v", path, got, want)
		}
	}
}

func TestNetworkPolicyOpensTheHTTPPortToCallersOnly(t *testing.T) {
	np := deploy(t).inputs["kubernetes:networking.k8s.io/v1:NetworkPolicy"]
	if np == nil {
		t.Fatal("no NetworkPolicy")
	}
	var from []string
	for _, peer := range get(t, np, "spec.ingress.0.from").([]any) {
		from = append(from, fmt.Sprint(get(t, peer, "podSelector.matchLabels.app")))
	}
	if fmt.Sprint(from) != fmt.Sprint(contract.Callers(contract.Management)) {
		t.Errorf("management reachable from %v, want its callers %v", from, contract.Callers(contract.Management))
	}
	if got := get(t, np, "spec.ingress.0.ports.0.port"); fmt.Sprint(got) != "8080" {
		t.Errorf("port %v", got)
	}
	if n := len(get(t, np, "spec.ingress").([]any)); n != 1 {
		t.Errorf("%d ingress rules: the admin port must stay closed", n)
	}
}

// A rollout and a pod's shutdown drop no request: never below the desired
// count, a preStop pause while endpoints catch up, and a grace period that
// outlasts the pause and the service's own drain.
func TestRolloutAndShutdownKeepServing(t *testing.T) {
	m := deploy(t)
	d := m.inputs["kubernetes:apps/v1:Deployment"]
	for path, want := range map[string]any{
		"spec.strategy.type":                                              "RollingUpdate",
		"spec.strategy.rollingUpdate.maxUnavailable":                      0.0,
		"spec.strategy.rollingUpdate.maxSurge":                            1.0,
		"spec.template.spec.containers.0.lifecycle.preStop.sleep.seconds": float64(workloads.PreStopSleepSeconds),
	} {
		if got := get(t, d, path); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	grace := get(t, d, "spec.template.spec.terminationGracePeriodSeconds").(float64)
	if need := float64(workloads.PreStopSleepSeconds) + contract.DefaultShutdownDrain.Seconds(); grace <= need {
		t.Errorf("terminationGracePeriodSeconds %v: the preStop pause and the drain take %v", grace, need)
	}
	// The admin listener is on the pod's loopback: no Service, no network path.
	found := false
	for _, e := range get(t, d, "spec.template.spec.containers.0.env").([]any) {
		if get(t, e, "name") == contract.EnvAdminAddr {
			found = true
			if v := fmt.Sprint(get(t, e, "value")); !strings.HasPrefix(v, "127.0.0.1:") {
				t.Errorf("%s = %s, want a loopback address", contract.EnvAdminAddr, v)
			}
		}
	}
	if !found {
		t.Errorf("no %s in the pod", contract.EnvAdminAddr)
	}
	// Kubernetes' own scale-down window unless the stack shortens it.
	if b, ok := m.inputs["kubernetes:autoscaling/v2:HorizontalPodAutoscaler"]["spec"].(map[string]any)["behavior"]; ok {
		t.Errorf("behavior %v set without carrental:autoscaling...scaleDownSeconds", b)
	}
}
