package stack_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/carrental/carrental/infra/addons"
	"github.com/carrental/carrental/svc/contract"
)

func withConfig(base map[string]string, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

const helmChart = "kubernetes:helm.sh/v4:Chart"

// Mesh mode policies (a cluster where Envoy cannot run) keeps Istio's CRDs
// and every policy, and drops the control plane, the ingress gateway and
// sidecar injection.
func TestMeshModePoliciesKeepsThePoliciesAndNoSidecars(t *testing.T) {
	r := run(t, "local", withConfig(localConfig, map[string]string{"carrental:meshMode": "policies"}))
	for _, d := range r.all(helmChart) {
		if d.Name == "istiod" || d.Name == "istio-ingressgateway" {
			t.Errorf("chart %s installed in mesh mode policies", d.Name)
		}
	}
	r.find(t, helmChart, "istio-base")
	r.find(t, custom, "DestinationRule-management")
	labels, _ := at(t, r.find(t, "kubernetes:core/v1:Namespace", "carrental").Inputs, "metadata").(map[string]any)["labels"].(map[string]any)
	if labels["istio-injection"] != nil {
		t.Errorf("app namespace labels %v: no injector runs in mode policies", labels)
	}
	// The default keeps the whole mesh.
	full := run(t, "local", localConfig)
	full.find(t, helmChart, "istiod")
	full.find(t, helmChart, "istio-ingressgateway")
}

// natsMode statefulset: our own JetStream servers, spread, budgeted, with
// the services pointed at them.
func TestNATSStatefulSet(t *testing.T) {
	r := run(t, "local", withConfig(localConfig, map[string]string{
		"carrental:natsMode": "statefulset", "carrental:natsReplicas": "3", "carrental:imagePullPolicy": "IfNotPresent",
	}))
	set := r.find(t, "kubernetes:apps/v1:StatefulSet", "nats")
	eq(t, "replicas", at(t, set.Inputs, "spec.replicas"), 3)
	eq(t, "image", at(t, set.Inputs, "spec.template.spec.containers.0.image"), addons.NATSImage)
	eq(t, "pull policy", at(t, set.Inputs, "spec.template.spec.containers.0.imagePullPolicy"), "IfNotPresent")
	eq(t, "storage", at(t, set.Inputs, "spec.volumeClaimTemplates.0.spec.resources.requests.storage"), "10Gi")
	conf := at(t, r.find(t, configMap, "nats-config").Inputs, "data").(map[string]any)["nats.conf"].(string)
	for _, want := range []string{"nats-0.nats-headless", "nats-2.nats-headless", "server_name: $POD_NAME", "jetstream"} {
		if !strings.Contains(conf, want) {
			t.Errorf("nats.conf lacks %q:\n%s", want, conf)
		}
	}
	eq(t, "budget", at(t, r.find(t, "kubernetes:policy/v1:PodDisruptionBudget", "nats").Inputs, "spec.maxUnavailable"), 1)
	env := at(t, r.find(t, deployment, "reservation").Inputs, "spec.template.spec.containers.0.env").([]any)
	found := false
	for _, e := range env {
		if m := e.(map[string]any); m["name"] == "NATS_URL" && m["value"] == addons.NATSClusterURL {
			found = true
		}
	}
	if !found {
		t.Errorf("reservation has no NATS_URL %s", addons.NATSClusterURL)
	}
	// A cluster with no provisioner keeps the stream in the pod.
	local := run(t, "local", withConfig(localConfig, map[string]string{"carrental:natsMode": "statefulset", "carrental:natsStorage": "emptyDir"}))
	s := local.find(t, "kubernetes:apps/v1:StatefulSet", "nats")
	if _, ok := s.Inputs["spec"].(map[string]any)["volumeClaimTemplates"]; ok {
		t.Error("volume claims with natsStorage emptyDir")
	}
}

func TestHPAScaleDownWindowOnlyWhenAsked(t *testing.T) {
	r := run(t, "local", withConfig(localConfig, map[string]string{"carrental:autoscaling": `{"management":{"scaleDownSeconds":15}}`}))
	h := r.find(t, hpa, "management")
	eq(t, "window", at(t, h.Inputs, "spec.behavior.scaleDown.stabilizationWindowSeconds"), 15)
	eq(t, "min replicas kept", at(t, h.Inputs, "spec.minReplicas"), 2)
}

// The services' resilience settings follow the stack: one retry layer
// (the mesh's when there are sidecars) and the profile it runs.
func TestResilienceEnvFollowsMeshModeAndProfile(t *testing.T) {
	envOf := func(r *recorder, s string) map[string]string {
		out := map[string]string{}
		for _, e := range at(t, r.find(t, deployment, s).Inputs, "spec.template.spec.containers.0.env").([]any) {
			m := e.(map[string]any)
			if v, ok := m["value"].(string); ok {
				out[m["name"].(string)] = v
			}
		}
		return out
	}
	for _, c := range []struct {
		config         map[string]string
		profile, layer string
	}{
		{localConfig, "serving", "mesh"},
		{withConfig(localConfig, map[string]string{"carrental:meshMode": "policies"}), "serving", "app"},
		{withConfig(localConfig, map[string]string{"carrental:meshMode": "policies", "carrental:resilience": "writeup"}), "writeup", "app"},
	} {
		env := envOf(run(t, "local", c.config), "reservation")
		if env["RESILIENCE_PROFILE"] != c.profile || env["RESILIENCE_LAYER"] != c.layer {
			t.Errorf("%v: profile %q layer %q, want %q %q", c.config, env["RESILIENCE_PROFILE"], env["RESILIENCE_LAYER"], c.profile, c.layer)
		}
	}
	// The gateway's per-client limit: the contract's defaults, the
	// ingress gateway's X-Forwarded-For entry with sidecars, the peer
	// without; a stack's own values win. Only the gateway gets them.
	for _, c := range []struct {
		config           map[string]string
		rps, burst, hops string
	}{
		{localConfig, "50", "100", "1"},
		{withConfig(localConfig, map[string]string{"carrental:meshMode": "policies"}), "50", "100", "0"},
		{withConfig(localConfig, map[string]string{"carrental:rateLimitRps": "0", "carrental:rateLimitBurst": "7", "carrental:trustedProxyHops": "2"}), "0", "7", "2"},
	} {
		r := run(t, "local", c.config)
		env := envOf(r, "gateway")
		if env[contract.EnvRateLimitRPS] != c.rps || env[contract.EnvRateLimitBurst] != c.burst || env[contract.EnvTrustedProxyHops] != c.hops {
			t.Errorf("%v: gateway rate %q burst %q hops %q, want %s %s %s", c.config, env[contract.EnvRateLimitRPS], env[contract.EnvRateLimitBurst], env[contract.EnvTrustedProxyHops], c.rps, c.burst, c.hops)
		}
		if _, ok := envOf(r, "reservation")[contract.EnvRateLimitRPS]; ok {
			t.Errorf("%v: reservation got the gateway's rate limit", c.config)
		}
	}
}

// Pulumi.dev.yaml, as shipped, is a valid AWS stack that keeps every
// default the tests above hold.
func TestDevStackFileRuns(t *testing.T) {
	b, err := os.ReadFile("../../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Config map[string]any `json:"config"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{"carrental:dbPassword": "s3cret", "carrental:imageTag": "v1"}
	for k, v := range file.Config {
		if s, ok := v.(string); ok {
			cfg[k] = s
			continue
		}
		j, _ := json.Marshal(v)
		cfg[k] = string(j)
	}
	r := run(t, "dev", cfg)
	eq(t, "NATS servers", at(t, r.find(t, "kubernetes:apps/v1:StatefulSet", "nats").Inputs, "spec.replicas"), 3)
	eq(t, "Multi-AZ", r.find(t, "aws:rds/instance:Instance", "database").Inputs["multiAz"], true)
	eq(t, "management HPA", at(t, r.find(t, hpa, "management").Inputs, "spec.maxReplicas"), 10)
	eq(t, "view HPA", at(t, r.find(t, hpa, "view").Inputs, "spec.minReplicas"), 2)
	eq(t, "EKS", r.find(t, "aws:eks/cluster:Cluster", "cluster").Inputs["version"], "1.34")
}
