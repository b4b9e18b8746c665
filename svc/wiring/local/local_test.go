package local_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/wiring"
	"github.com/carrental/carrental/svc/wiring/local"
)

// A start that fails part-way stops everything it started: the services
// already serving, the embedded NATS server and every listener.
func TestFailedStartLeavesNothingBehind(t *testing.T) {
	failing := func(s contract.Service) []host.Spec {
		specs := wiring.All()
		for i := range specs {
			if specs[i].Service == s {
				specs[i].Build = func(context.Context, *host.Deps) (*host.Built, error) {
					return nil, errors.New("injected build failure")
				}
			}
		}
		return specs
	}
	cases := []struct {
		name  string
		specs []host.Spec
		env   map[string]string
		want  string
	}{
		{"the last service fails to build while the others serve", failing(contract.View), nil, "injected build failure"},
		{"a bad setting after NATS started", nil, map[string]string{host.EnvShutdownDrain: "soon"}, host.EnvShutdownDrain},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := listeningSockets(t)
			dir := t.TempDir()
			sys, err := local.Start(context.Background(), local.Options{
				DataDir: dir, Specs: tc.specs,
				Getenv: func(k string) string { return tc.env[k] },
				Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if err == nil {
				t.Fatalf("started: %v", sys.URLs)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if after := listeningSockets(t); after != before {
				t.Fatalf("%d listening sockets before the start, %d after it failed", before, after)
			}
			// No service is left marked live.
			if left, _ := filepath.Glob(filepath.Join(dir, "healthy", "*")); len(left) > 0 {
				t.Fatalf("liveness files left: %v", left)
			}
		})
	}
}

// listeningSockets counts this process's TCP sockets in LISTEN state.
func listeningSockets(t *testing.T) int {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			// sl local rem st ... inode is the tenth field; 0A is LISTEN.
			if len(fields) > 9 && fields[3] == "0A" && inodes[fields[9]] {
				n++
			}
		}
		f.Close()
	}
	return n
}
