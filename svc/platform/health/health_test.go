package health

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/platform/httpx"
)

func TestProbeFollowsTheLivenessFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tmp", "healthy")
	var stderr bytes.Buffer
	if Probe(path, &stderr) == 0 {
		t.Fatal("probe passed without the file")
	}
	if !strings.Contains(stderr.String(), "not live") {
		t.Fatalf("stderr %q", stderr.String())
	}
	if err := MarkLive(path); err != nil {
		t.Fatal(err)
	}
	if Probe(path, &stderr) != 0 {
		t.Fatal("probe failed with the file present")
	}
	// The write-up's experiment: remove the file and the probe fails.
	if err := MarkDead(path); err != nil {
		t.Fatal(err)
	}
	if Probe(path, &stderr) == 0 {
		t.Fatal("probe passed after the file was removed")
	}
	if err := MarkDead(path); err != nil {
		t.Fatalf("removing a missing file: %v", err)
	}
}

func TestReadiness(t *testing.T) {
	var r Readiness
	r.Add("db", func(context.Context) error { return nil })
	h := r.Handler(httpx.WriteJSON)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	r.Add("nats", func(context.Context) error { return errors.New("disconnected") })
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "disconnected") {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
}

// A dependency that goes and comes back is logged twice, not at every
// probe in between.
func TestReadinessLogsEachTransitionOnce(t *testing.T) {
	var logs bytes.Buffer
	r := Readiness{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	var failing error
	r.Add("database", func(context.Context) error { return failing })
	ctx := context.Background()
	r.Status(ctx)
	failing = errors.New("connection refused")
	for range 3 {
		r.Status(ctx)
	}
	failing = nil
	r.Status(ctx)
	r.Status(ctx)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "dependency unavailable") || !strings.Contains(lines[0], "connection refused") ||
		!strings.Contains(lines[1], "dependency available again") || !strings.Contains(lines[1], "down=") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}
