package addons

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

func TestAddOnResourcesAreBoundedAndConsistent(t *testing.T) {
	for name, values := range map[string]map[string]any{
		"metrics-server": metricsServerValues("Always"),
		"istiod":         istiodValues("1.27.3"),
		"ingress":        ingressValues("1.27.3"),
	} {
		res := values["resources"].(map[string]any)
		requests, limits := res["requests"].(map[string]any), res["limits"].(map[string]any)
		for _, kind := range []string{"cpu", "memory", "ephemeral-storage"} {
			req, err := resource.ParseQuantity(requests[kind].(string))
			if err != nil {
				t.Errorf("%s %s request: %v", name, kind, err)
				continue
			}
			lim, err := resource.ParseQuantity(limits[kind].(string))
			if err != nil {
				t.Errorf("%s %s limit: %v", name, kind, err)
				continue
			}
			if req.Sign() <= 0 || lim.Cmp(req) < 0 {
				t.Errorf("%s %s: request %s, limit %s: want 0 < request <= limit", name, kind, &req, &lim)
			}
		}
	}
}

func TestIstioImagesFollowTheConfiguredVersionAndShipPolicies(t *testing.T) {
	for name, values := range map[string]map[string]any{"istiod": istiodValues("1.27.3"), "ingress": ingressValues("1.27.3")} {
		global := values["global"].(map[string]any)
		if global["tag"] != "1.27.3" || global["hub"] != istioHub {
			t.Errorf("%s images %v/%v, want %s/1.27.3", name, global["hub"], global["tag"], istioHub)
		}
		if np := global["networkPolicy"].(map[string]any); np["enabled"] != true {
			t.Errorf("%s: the chart's NetworkPolicy is off", name)
		}
	}
}

// A budget of minAvailable 1 over a single replica blocks every drain.
func TestDisruptionBudgetsCoverTwoReplicas(t *testing.T) {
	cases := []struct {
		name     string
		replicas any
		budget   map[string]any
	}{
		{"istiod", istiodValues("v")["autoscaleMin"], map[string]any{"minAvailable": 1}}, // the chart's own budget
		{"ingress", ingressValues("v")["autoscaling"].(map[string]any)["minReplicas"], ingressValues("v")["podDisruptionBudget"].(map[string]any)},
	}
	for _, c := range cases {
		n, _ := c.replicas.(int)
		if min, _ := c.budget["minAvailable"].(int); n < 2 || min < 1 || min >= n {
			t.Errorf("%s: %v replicas with budget %v: want minAvailable in [1, replicas)", c.name, c.replicas, c.budget)
		}
	}
}

func TestMetricsServerRunsAsAHighNonRootUser(t *testing.T) {
	sc := metricsServerValues("Always")["securityContext"].(map[string]any)
	for _, key := range []string{"runAsUser", "runAsGroup"} {
		if id, _ := sc[key].(int); id <= 10000 {
			t.Errorf("%s %v: kube-score wants > 10000", key, sc[key])
		}
	}
	if sc["runAsNonRoot"] != true || sc["readOnlyRootFilesystem"] != true {
		t.Errorf("security context %v", sc)
	}
}

// The gateway's per-client limits need the client's own address in the
// ingress's X-Forwarded-For entry: a Network Load Balancer with
// externalTrafficPolicy Local keeps it, a classic ELB or a second
// kube-proxy hop replaces it.
func TestIngressKeepsTheClientAddress(t *testing.T) {
	service := ingressValues("v")["service"].(map[string]any)
	if service["externalTrafficPolicy"] != "Local" {
		t.Errorf("externalTrafficPolicy %v, want Local", service["externalTrafficPolicy"])
	}
	if lb := service["annotations"].(map[string]any)["service.beta.kubernetes.io/aws-load-balancer-type"]; lb != "nlb" {
		t.Errorf("load balancer type %v, want nlb", lb)
	}
}
