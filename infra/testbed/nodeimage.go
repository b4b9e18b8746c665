package testbed

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Images made here, without a registry or a Docker daemon: a static Go
// binary in a single-layer docker-archive (layer tar + config JSON +
// manifest.json), the format `ctr images import` reads.

// Image describes one such image.
type Image struct {
	Ref        string   // e.g. carrental.local/pause:3.10
	Package    string   // Go package of its one binary
	Binary     string   // path of the binary in the image, e.g. /pause
	Entrypoint []string // defaults to [Binary]
	User       string   // "uid:gid"
}

// PauseImageSpec is the sandbox image: internal/pause waits for SIGTERM or
// SIGINT and reaps the children it inherits as PID 1. It runs as 65535,
// like upstream's pause.
var PauseImageSpec = Image{Ref: PauseImage, Package: "github.com/carrental/carrental/infra/testbed/internal/pause",
	Binary: "/pause", User: "65535:65535"}

// BuildImage compiles the image's binary (static, for this machine's
// architecture) and writes the image as a docker-archive tarball at out.
func BuildImage(ctx context.Context, img Image, out string) error {
	tmp, err := os.MkdirTemp("", "carrental-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, filepath.Base(img.Binary))
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, img.Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (run inside the carrental repository): %w\n%s", img.Package, err, b)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	entry := img.Entrypoint
	if entry == nil {
		entry = []string{img.Binary}
	}
	return writeDockerArchive(out, img.Ref, img.Binary, data, entry, img.User)
}

// writeDockerArchive writes a one-layer image holding file at path.
func writeDockerArchive(out, ref, path string, file []byte, entrypoint []string, user string) error {
	// The layer: /tmp (for programs that expect it even with a read-only
	// root) and the binary. Fixed times make the digest reproducible.
	epoch := time.Unix(0, 0)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	dirs := []string{"tmp/"}
	for d := filepath.Dir(strings.TrimPrefix(path, "/")); d != "." && d != "/"; d = filepath.Dir(d) {
		dirs = append(dirs, d+"/")
	}
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: epoch}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path, "/"), Mode: 0o755,
		Size: int64(len(file)), ModTime: epoch}); err != nil {
		return err
	}
	if _, err := tw.Write(file); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layerSum := sha256.Sum256(layer.Bytes())
	layerID := hex.EncodeToString(layerSum[:])
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"created":      epoch.UTC().Format(time.RFC3339),
		"config": map[string]any{
			"Entrypoint": entrypoint,
			"User":       user,
			"WorkingDir": "/",
			"Env":        []string{"PATH=/"},
		},
		"rootfs":  map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerID}},
		"history": []map[string]any{{"created": epoch.UTC().Format(time.RFC3339), "created_by": "carrental infra/testbed"}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]map[string]any{{
		"Config":   configName,
		"RepoTags": []string{ref},
		"Layers":   []string{layerID + "/layer.tar"},
	}})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{configName, config}, {layerID + "/layer.tar", layer.Bytes()}, {"manifest.json", manifest}} {
		if strings.Contains(e.name, "/") {
			if err := aw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: filepath.Dir(e.name) + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return err
			}
		}
		if err := aw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := aw.Write(e.data); err != nil {
			return err
		}
	}
	if err := aw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// hasImage reports whether the node's containerd holds ref.
func (n *Node) hasImage(ctx context.Context, ref string) bool {
	out, err := n.ctr(ctx, "images", "ls", "-q")
	if err != nil {
		return false
	}
	for _, l := range strings.Fields(out) {
		if l == ref {
			return true
		}
	}
	return false
}

// ensurePauseImage builds and imports the sandbox image unless containerd
// has it: no sandbox (so no pod) starts without it.
func (n *Node) ensurePauseImage(ctx context.Context) error {
	if n.hasImage(ctx, PauseImage) {
		return nil
	}
	t0 := time.Now()
	tarPath := filepath.Join(n.Dir, "pause.tar")
	if err := BuildImage(ctx, PauseImageSpec, tarPath); err != nil {
		return fmt.Errorf("building the pause image: %w", err)
	}
	if _, err := n.Load(ctx, tarPath); err != nil {
		return fmt.Errorf("importing the pause image: %w", err)
	}
	n.logf("pause image %s built and imported (%.1fs)", PauseImage, time.Since(t0).Seconds())
	return nil
}
