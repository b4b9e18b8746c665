package images

import (
	"os/exec"
	"strings"
	"testing"
)

// dryRun runs scripts/deploy --dry-run and returns its step lines.
func dryRun(t *testing.T, args ...string) (steps []string, all string) {
	t.Helper()
	out, err := exec.Command("../deploy", append([]string{"--dry-run"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("deploy --dry-run %v: %v\n%s", args, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "[") {
			steps = append(steps, line)
		}
	}
	return steps, string(out)
}

func index(t *testing.T, out, what string) int {
	t.Helper()
	i := strings.Index(out, what)
	if i < 0 {
		t.Fatalf("the plan never does %q:\n%s", what, out)
	}
	return i
}

func TestDeployPlanOrder(t *testing.T) {
	steps, out := dryRun(t)
	if len(steps) < 8 {
		t.Fatalf("only %d steps:\n%s", len(steps), out)
	}
	infra := index(t, out, "provision the infrastructure")
	login := index(t, out, "aws ecr get-login-password")
	push := index(t, out, "scripts/build-images --push")
	pin := index(t, out, "pulumi config set --path carrental:images.gateway")
	app := index(t, out, "deploy the app")
	smoke := index(t, out, "smoke request")
	if !(infra < login && login < push && push < pin && pin < app && app < smoke) {
		t.Fatalf("steps out of order:\n%s", out)
	}
	if strings.Count(out, "carrental:images.") != 6 {
		t.Fatalf("not every service pinned by digest:\n%s", out)
	}
}

func TestDestroyRemovesTheAppBeforeTheNetwork(t *testing.T) {
	_, out := dryRun(t, "destroy")
	app := index(t, out, "carrental:addons:Addons")
	rest := index(t, out, "remove the cluster, registry, database and network")
	if app > rest {
		t.Fatalf("the VPC would go before the load balancers:\n%s", out)
	}
}

func TestLocalPlanBuildsOfflineAndDeclaresNoAWS(t *testing.T) {
	_, out := dryRun(t, "--stack", "local")
	index(t, out, "scripts/build-images --out")
	index(t, out, "pulumi up --yes --stack local")
	if strings.Contains(out, "aws ") {
		t.Fatalf("the local plan uses AWS:\n%s", out)
	}
}
