// Command mkbase writes a minimal, reproducible base image for ko into an
// OCI layout (ko's KOCACHE), for machines that cannot pull one: no shell, no
// package manager, just the files a static Go binary running as a non-root
// user expects (/etc/passwd, /etc/group, /tmp, a home). It prints the
// digest reference to use as KO_DEFAULTBASEIMAGE; ko finds an image
// referenced by digest in its cache without asking any registry.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// NonRoot is the user the services run as (the same UID as distroless'
// and Chainguard's "nonroot", so runAsNonRoot works either way).
const NonRoot = 65532

func main() {
	cache := flag.String("kocache", "", "ko's cache directory (KOCACHE); the image goes into <kocache>/img")
	repo := flag.String("repo", "carrental.local/base", "repository name for the printed reference")
	flag.Parse()
	if *cache == "" {
		fmt.Fprintln(os.Stderr, "mkbase: -kocache is required")
		os.Exit(2)
	}
	ref, err := write(filepath.Join(*cache, "img"), *repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkbase:", err)
		os.Exit(1)
	}
	fmt.Println(ref)
}

func write(path, repo string) (string, error) {
	layer, err := tarball.LayerFromOpener(rootfs)
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return "", err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = fmt.Sprintf("%d:%d", NonRoot, NonRoot)
	cf.Config.WorkingDir = "/home/nonroot"
	cf.Config.Env = []string{"PATH=/ko-app", "HOME=/home/nonroot"}
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return "", err
	}
	p, err := layout.FromPath(path)
	if err != nil {
		if p, err = layout.Write(path, empty.Index); err != nil {
			return "", err
		}
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	// Replacing by digest keeps one entry however often this runs.
	if err := p.ReplaceImage(img, match.Digests(d), layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"})); err != nil {
		return "", err
	}
	return repo + "@" + d.String(), nil
}

// rootfs is the single layer, with fixed times and owners so the same
// program always writes the same digest.
func rootfs() (io.ReadCloser, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0).UTC()
	dirs := []struct {
		name string
		mode int64
		uid  int
	}{{"etc/", 0o755, 0}, {"home/", 0o755, 0}, {"home/nonroot/", 0o700, NonRoot}, {"tmp/", 0o1777, 0}}
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, Uid: d.uid, Gid: d.uid, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	files := []struct{ name, body string }{
		{"etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", NonRoot, NonRoot)},
		{"etc/group", fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", NonRoot)},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
}
