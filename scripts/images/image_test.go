package images

import (
	"archive/tar"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

var services = []string{"gateway", "management", "reservation", "payment", "rental", "view"}

// build runs scripts/build-images offline into a fresh directory.
func build(t *testing.T) string {
	t.Helper()
	// ko names images after the layout path, which must be lower case;
	// t.TempDir() carries the test's name.
	out, err := os.MkdirTemp("", "carrental-images-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	cmd := exec.Command("../build-images", "--out", out)
	cmd.Stderr = os.Stderr
	refs, err := cmd.Output()
	if err != nil {
		t.Fatalf("build-images: %v", err)
	}
	checkTags(t, out, string(refs))
	return out
}

// checkTags holds build-images to its word: one "<service> <ref>" line per
// service, a pinned tag (never latest), and that tag on the tarball kind
// and minikube load.
func checkTags(t *testing.T, out, printed string) {
	t.Helper()
	refs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(printed), "\n") {
		if svc, ref, ok := strings.Cut(line, " "); ok {
			refs[svc] = ref
		}
	}
	for _, svc := range services {
		ref := refs[svc]
		repo, tag, _ := strings.Cut(ref, ":")
		if repo != "carrental.local/"+svc || tag == "" || tag == "latest" {
			t.Fatalf("%s: printed %q, want carrental.local/%s:<revision>", svc, ref, svc)
		}
		tags := tarballTags(t, filepath.Join(out, svc+".tar"))
		if len(tags) != 1 || tags[0] != ref {
			t.Fatalf("%s.tar is tagged %v, want %s", svc, tags, ref)
		}
	}
}

// tarballTags reads the RepoTags of a docker-archive tarball.
func tarballTags(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s: no manifest.json: %v", path, err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var manifest []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&manifest); err != nil || len(manifest) != 1 {
			t.Fatalf("%s: manifest.json: %v", path, err)
		}
		return manifest[0].RepoTags
	}
}

func image(t *testing.T, out, svc string) (v1.Image, v1.Hash) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(filepath.Join(out, svc))
	if err != nil {
		t.Fatalf("%s: %v", svc, err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != 1 {
		t.Fatalf("%s: want one image in the layout (%v)", svc, err)
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, m.Manifests[0].Digest
}

func TestImagesAreMinimalReproducibleAndRun(t *testing.T) {
	first, second := build(t), build(t)
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			img, digest := image(t, first, svc)
			if _, again := image(t, second, svc); again != digest {
				t.Fatalf("not reproducible: %s then %s", digest, again)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			binary := "/ko-app/" + svc
			if got := cf.Config.Entrypoint; len(got) != 1 || got[0] != binary {
				t.Fatalf("entrypoint %v, want [%s]", got, binary)
			}
			if user := cf.Config.User; user == "" || strings.HasPrefix(user, "0") || user == "root" {
				t.Fatalf("runs as %q, want a non-root user", user)
			}
			if _, err := os.Stat(filepath.Join(first, "sbom")); err != nil {
				t.Fatalf("no SBOMs: %v", err)
			}
			files := extract(t, img, binary)
			for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/cat", "bin/cat"} {
				if files[shell] {
					t.Fatalf("image ships %s; the liveness probe must not need it", shell)
				}
			}
			probeAndServe(t, filepath.Join(t.TempDir(), "bin"), img, binary)
		})
	}
}

// extract lists the image's files and keeps the service binary.
func extract(t *testing.T, img v1.Image, binary string) map[string]bool {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "/")
		files[name] = true
	}
	if !files[strings.TrimPrefix(binary, "/")] {
		t.Fatalf("no %s in the image", binary)
	}
	return files
}

func writeBinary(t *testing.T, img v1.Image, binary, dst string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("binary %s not found: %v", binary, err)
		}
		if strings.TrimPrefix(h.Name, "/") != strings.TrimPrefix(binary, "/") {
			continue
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return
	}
}

func probeAndServe(t *testing.T, bin string, img v1.Image, binary string) {
	t.Helper()
	writeBinary(t, img, binary, bin)
	dir := t.TempDir()
	healthy := filepath.Join(dir, "healthy")

	probe := func() int {
		cmd := exec.Command(bin, "probe")
		cmd.Env = []string{"HEALTHY_FILE=" + healthy}
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if probe() == 0 {
		t.Fatal("probe passed with no liveness file")
	}
	if err := os.WriteFile(healthy, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := probe(); code != 0 {
		t.Fatalf("probe exit %d with the liveness file present", code)
	}
	os.Remove(healthy)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// Without an issuer the image refuses to start: it fails closed
	// rather than serving everyone.
	refused := exec.Command(bin)
	refused.Env = []string{"ADDR=" + addr, "DATA_DIR=" + dir, "HEALTHY_FILE=" + healthy}
	if out, err := refused.CombinedOutput(); err == nil || !strings.Contains(string(out), "AUTH_ISSUER") {
		t.Fatalf("started without an issuer (err %v):\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"ADDR=" + addr, "DATA_DIR=" + dir, "HEALTHY_FILE=" + healthy,
		"AUTH_ISSUER=https://issuer.images.test", "AUTH_JWKS=" + publicKeySet(t)}
	logs, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://%s/healthz", addr))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("service never answered /healthz: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if probe() != 0 {
		t.Fatal("a running service did not create its liveness file")
	}
}

// publicKeySet is the JWKS of a fresh P-256 key: what a service needs to
// start (AUTH_JWKS), written by hand since this module does not import
// the services'.
func publicKeySet(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:65]), "kid": "images-test", "alg": "ES256", "use": "sig",
	}}})
	return string(set)
}
