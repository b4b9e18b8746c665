package versions_test

import (
	"os"
	"strings"
	"testing"

	"github.com/carrental/carrental/infra/versions"
)

// require is the version go.mod file pins for module.
func require(t *testing.T, file, module string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) >= 2 && f[0] == module {
			return f[1]
		}
	}
	t.Fatalf("%s does not require %s", file, module)
	return ""
}

func minor(v string) string {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func TestPinnedVersionsAgreeWithWhatIsBuilt(t *testing.T) {
	for _, c := range []struct {
		what, got, want string
	}{
		{"the test bed's Kubernetes (scripts/tools/kubernetes/go.mod) vs EKS", minor(require(t, "../../scripts/tools/kubernetes/go.mod", "k8s.io/kubernetes")), versions.Kubernetes},
		{"istio.io/api (go.mod, the typed policies) vs the Istio release", require(t, "../../go.mod", "istio.io/api"), "v" + versions.Istio},
		{"nats-server (go.mod, what the services embed) vs the NATS image", require(t, "../../go.mod", "github.com/nats-io/nats-server/v2"), "v" + versions.NATS},
		{"nats-server of the local node's image (scripts/tools/nats-server)", require(t, "../../scripts/tools/nats-server/go.mod", "github.com/nats-io/nats-server/v2"), "v" + versions.NATS},
		{"metrics-server of the local node's image (scripts/tools/metrics-server)", require(t, "../../scripts/tools/metrics-server/go.mod", "sigs.k8s.io/metrics-server"), versions.MetricsServer},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.what, c.got, c.want)
		}
	}
}

// The AWS stack's file leaves the versions to this package: a version
// spelled there would silently win over the pins above.
func TestDevStackLeavesVersionsToThisPackage(t *testing.T) {
	b, err := os.ReadFile("../../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "carrental:eksVersion:" || f[0] == "version:") {
			t.Errorf("Pulumi.dev.yaml:%d pins a version (%s): infra/versions holds them", i+1, strings.TrimSpace(line))
		}
	}
}
