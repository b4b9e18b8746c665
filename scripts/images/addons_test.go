package images

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// requiredVersion is the version gomod requires of module (on a require
// line or in a require block), "" if none: what build-images' awk reads.
func requiredVersion(t *testing.T, gomod, module string) string {
	t.Helper()
	f, err := os.Open(gomod)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 3 && fs[0] == "require" && fs[1] == module {
			return fs[2]
		}
		if len(fs) >= 2 && fs[0] == module {
			return fs[1]
		}
	}
	return ""
}

// TestAddonWrappersPinned: the NATS image the local cluster runs is the
// nats-server the services are built and tested with (the main module's),
// and each wrapper module declares the tool build-images builds from it.
func TestAddonWrappersPinned(t *testing.T) {
	const nats = "github.com/nats-io/nats-server/v2"
	want := requiredVersion(t, "../../go.mod", nats)
	got := requiredVersion(t, "../tools/nats-server/go.mod", nats)
	if want == "" || got != want {
		t.Fatalf("go.mod requires %s %q but scripts/tools/nats-server pins %q: "+
			"cd scripts/tools/nats-server && go get -tool %s@%s && go mod tidy", nats, want, got, nats, want)
	}
	for wrapper, tool := range map[string]string{
		"nats-server":    nats,
		"metrics-server": "sigs.k8s.io/metrics-server/cmd/metrics-server",
	} {
		b, err := os.ReadFile(filepath.Join("..", "tools", wrapper, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "\ntool "+tool+"\n") {
			t.Errorf("scripts/tools/%s/go.mod: no `tool %s` (ko resolves the import path through it)", wrapper, tool)
		}
	}
	if v := requiredVersion(t, "../tools/metrics-server/go.mod", "sigs.k8s.io/metrics-server"); v == "" {
		t.Error("scripts/tools/metrics-server/go.mod requires no sigs.k8s.io/metrics-server")
	}
}

// TestAddonImages builds the add-on images (scripts/build-images --addons)
// and checks what the cluster's deployments rely on: the exact names they
// ask for, the server binary as the entrypoint (they pass args only), a
// non-root user, and the pinned version inside. A cold build compiles
// metrics-server (minutes on 2 cores), so it runs on request:
// CARRENTAL_ADDON_IMAGES=1. Running them in pods is TestClusterAddons
// (infra/testbed).
func TestAddonImages(t *testing.T) {
	if os.Getenv("CARRENTAL_ADDON_IMAGES") != "1" {
		t.Skip("CARRENTAL_ADDON_IMAGES=1 builds the add-on images (a cold build takes minutes)")
	}
	out, err := os.MkdirTemp("", "carrental-addons-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	cmd := exec.Command("../build-images", "--addons", "--out", out)
	cmd.Stderr = os.Stderr
	printed, err := cmd.Output()
	if err != nil {
		t.Fatalf("build-images --addons: %v", err)
	}
	natsVersion := requiredVersion(t, "../../go.mod", "github.com/nats-io/nats-server/v2")
	msVersion := requiredVersion(t, "../tools/metrics-server/go.mod", "sigs.k8s.io/metrics-server")
	want := map[string]struct{ ref, entry, version string }{
		"metrics-server": {"registry.k8s.io/metrics-server/metrics-server:" + msVersion, "/ko-app/metrics-server", msVersion},
		"nats":           {"docker.io/library/nats:" + strings.TrimPrefix(natsVersion, "v"), "/ko-app/v2", "nats-server: " + natsVersion},
	}
	lines := strings.Split(strings.TrimSpace(string(printed)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("printed %q, want one line per add-on", printed)
	}
	for _, l := range lines {
		name, ref, _ := strings.Cut(l, " ")
		w, ok := want[name]
		if !ok || ref != w.ref {
			t.Fatalf("printed %q, want %q for %s", l, w.ref, name)
		}
		tarPath := filepath.Join(out, "addons", name+".tar")
		if tags := tarballTags(t, tarPath); len(tags) != 1 || tags[0] != w.ref {
			t.Fatalf("%s is tagged %v, want %s", tarPath, tags, w.ref)
		}
		img, err := tarball.ImageFromPath(tarPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if e := cf.Config.Entrypoint; len(e) != 1 || e[0] != w.entry {
			t.Errorf("%s: entrypoint %v, want [%s]", name, e, w.entry)
		}
		if cf.Config.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532", name, cf.Config.User)
		}
		if cf.OS != "linux" || cf.Architecture != "amd64" {
			t.Errorf("%s: platform %s/%s", name, cf.OS, cf.Architecture)
		}
		extract(t, img, w.entry)
		bin := filepath.Join(t.TempDir(), name)
		writeBinary(t, img, w.entry, bin)
		v, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil || strings.TrimSpace(string(v)) != w.version {
			t.Errorf("%s --version: %q %v, want %q", name, v, err, w.version)
		}
	}
}
