// Package health implements the write-up's liveness contract and the
// readiness checks. A service creates its liveness file once it is ready;
// "<binary> probe" exits non-zero when the file is missing, so Kubernetes
// can exec the probe in an image with no shell and no cat.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// MarkLive creates the liveness file.
func MarkLive(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("liveness file: %w", err)
	}
	if err := os.WriteFile(path, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return fmt.Errorf("liveness file: %w", err)
	}
	return nil
}

// MarkDead removes the liveness file; a missing file is not an error.
func MarkDead(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("liveness file: %w", err)
	}
	return nil
}

// Probe is the "probe" subcommand: exit code 0 when the liveness file
// exists, 1 otherwise, with the reason on stderr.
func Probe(path string, stderr io.Writer) int {
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "probe: not live: %v\n", err)
		return 1
	}
	return 0
}

// Check reports whether one dependency is usable.
type Check func(ctx context.Context) error

// Readiness serves /readyz from named checks, each bounded by a timeout.
// With Log set it says when a dependency goes and when it comes back
// (a database failover, a lost JetStream quorum), once each.
type Readiness struct {
	Log *slog.Logger

	mu     sync.Mutex
	checks map[string]Check
	down   map[string]time.Time // failing checks, since when
}

// Add registers a check.
func (r *Readiness) Add(name string, c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.checks == nil {
		r.checks = map[string]Check{}
	}
	r.checks[name] = c
}

// Status runs every check and returns the failures by name.
func (r *Readiness) Status(ctx context.Context) map[string]string {
	r.mu.Lock()
	checks := make(map[string]Check, len(r.checks))
	for k, v := range r.checks {
		checks[k] = v
	}
	r.mu.Unlock()
	failed := map[string]string{}
	for name, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c(cctx)
		cancel()
		if err != nil {
			failed[name] = err.Error()
		}
		if ctx.Err() == nil { // a probe that went away says nothing of the dependency
			r.transition(name, err)
		}
	}
	return failed
}

func (r *Readiness) transition(name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	since, wasDown := r.down[name]
	switch {
	case err != nil && !wasDown:
		if r.down == nil {
			r.down = map[string]time.Time{}
		}
		r.down[name] = time.Now()
		if r.Log != nil {
			r.Log.Warn("dependency unavailable, not ready until it is back", "dependency", name, "err", err)
		}
	case err == nil && wasDown:
		delete(r.down, name)
		if r.Log != nil {
			r.Log.Info("dependency available again, ready", "dependency", name, "down", time.Since(since).Round(time.Millisecond).String())
		}
	}
}

// Handler answers 200 when every check passes and 503 with the failures
// otherwise.
func (r *Readiness) Handler(writeJSON func(http.ResponseWriter, int, any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		failed := r.Status(req.Context())
		if len(failed) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}
