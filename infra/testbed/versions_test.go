package testbed_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrental/carrental/infra/testbed"
	"github.com/carrental/carrental/infra/versions"
)

// The charts the test bed installs offline come from the istio.io/istio
// module at a commit of the Istio release line the stack pins: the same
// minor as versions.Istio, whose istio.io/api the typed policies use.
func TestOfflineIstioChartsAreTheStacksRelease(t *testing.T) {
	if os.Getenv("CARRENTAL_TESTBED") != "1" {
		t.Skip("CARRENTAL_TESTBED=1 downloads the istio.io/istio module (scripts/testbed)")
	}
	dir, err := testbed.ModuleDir(testbed.IstioModule)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := "v" + strings.Join(strings.SplitN(versions.Istio, ".", 3)[:2], ".") + "."
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "istio.io/api" {
			if !strings.HasPrefix(f[1], want) {
				t.Fatalf("%s builds on istio.io/api %s; the stack pins Istio %s", testbed.IstioModule, f[1], versions.Istio)
			}
			return
		}
	}
	t.Fatalf("%s/go.mod names no istio.io/api", dir)
}
