package testbed

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/carrental/carrental/infra/versions"
	"github.com/carrental/carrental/svc/contract"
)

// Charts for offline runs, pinned: Istio's live in the istio.io/istio
// module (it has no tagged module versions, so a pseudo-version), and
// metrics-server's in its module, at the version whose image the stack
// runs (addons.MetricsServerVersion; scripts/tools/metrics-server builds
// the same version's image for the local cluster).
const (
	IstioModule         = "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"
	MetricsServerModule = "sigs.k8s.io/metrics-server@" + versions.MetricsServer
)

// ModuleDir downloads a module (or finds it in the module cache) and
// returns its directory.
func ModuleDir(mod string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s %s", mod, info.Error, out)
	}
	return info.Dir, nil
}

// OfflineCharts are the chart paths of the stack's Helm add-ons, from
// their modules.
func OfflineCharts() (istio, metricsServer string, err error) {
	dir, err := ModuleDir(IstioModule)
	if err != nil {
		return "", "", err
	}
	ms, err := ModuleDir(MetricsServerModule)
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, "manifests", "charts"), filepath.Join(ms, "charts", "metrics-server"), nil
}

// ContainerdSocket is the node's containerd, for ctr.
func (n *Node) ContainerdSocket() string { return n.socket() }

// NodeStackConfig is the local stack's configuration for this node: the
// images loaded into it (imageTag), the charts from their modules, Istio's
// CRDs and our policies without sidecars (no Envoy can be built here), a
// JetStream cluster of three (our StatefulSet) on pod-local storage (no
// volume provisioner) keeping the stream on all three, the node's
// PostgreSQL so replicas share their data, and a short HPA scale-down
// window so a test sees the way back down.
//
// Two cores hold the write-up's 200m CPU request of about nine pods
// besides the add-ons, so management keeps the write-up's autoscaler (two
// pods, room to scale) and the other five stay at one pod each (their
// autoscalers pinned at 1–1): the AWS default of two each would leave pods
// Pending here, and a gateway scaling out under the experiments' load
// would take the CPU management's own scale-up and rollout need.
func (n *Node) NodeStackConfig(imageTag string) (map[string]string, error) {
	istio, metrics, err := OfflineCharts()
	if err != nil {
		return nil, err
	}
	db := n.DatabaseURL()
	cfg := map[string]string{
		"carrental:target":                                  "local",
		"carrental:kubeconfig":                              n.Kubeconfig(),
		"carrental:imageTag":                                imageTag,
		"carrental:imagePullPolicy":                         "IfNotPresent",
		"carrental:meshMode":                                "policies",
		"carrental:istioCharts.path":                        istio,
		"carrental:metricsServerChart.path":                 metrics,
		"carrental:natsMode":                                "statefulset",
		"carrental:natsReplicas":                            "3",
		"carrental:natsStorage":                             "emptyDir",
		"carrental:databaseUrl":                             db,
		"carrental:dbMaxConnections":                        fmt.Sprint(NodePostgresMaxConnections),
		"carrental:autoscaling.management.scaleDownSeconds": "15",
		// The experiments' load comes from one address (this machine):
		// the gateway's per-client limit would refuse most of it.
		"carrental:rateLimitRps": "0",
		// A local stack without an issuer is refused. The end-to-end
		// harness replaces this with its own issuer (authIssuer,
		// authAudience, authJwks inline) and its experiments send tokens;
		// scripts/local-stack -node, which has no issuer, runs without
		// identity checks.
		"carrental:authMode": "off",
	}
	for _, s := range contract.Services() {
		if s != contract.Management {
			cfg["carrental:autoscaling."+string(s)+".minReplicas"] = "1"
			cfg["carrental:autoscaling."+string(s)+".maxReplicas"] = "1"
		}
	}
	return cfg, nil
}
