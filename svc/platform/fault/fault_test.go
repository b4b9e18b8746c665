package fault

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/platform/health"
)

func TestAdminSwitchesFaultsAtRunTime(t *testing.T) {
	var in Injector
	app := in.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	healthy := filepath.Join(t.TempDir(), "healthy")
	_ = health.MarkLive(healthy)
	crashed := make(chan struct{})
	admin := AdminHandler(&in, healthy, func() { close(crashed) })

	do := func(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
		return rec
	}
	if rec := do(app, "GET", "/", ""); rec.Code != 200 {
		t.Fatalf("no fault: %d", rec.Code)
	}
	if rec := do(admin, "PUT", "/fault", `{"errorRate":1,"errorStatus":500}`); rec.Code != 200 {
		t.Fatalf("set: %d %s", rec.Code, rec.Body)
	}
	if rec := do(app, "GET", "/", ""); rec.Code != 500 || !strings.Contains(rec.Body.String(), "injected_fault") {
		t.Fatalf("error rate 1: %d %s", rec.Code, rec.Body)
	}
	if c := in.Counts(); c != (Counts{Requests: 1, Injected: 1}) {
		t.Fatalf("counts %+v after one injected error", c)
	}
	if rec := do(admin, "GET", "/fault", ""); !strings.Contains(rec.Body.String(), `"injectedErrors":1`) {
		t.Fatalf("GET /fault: %s", rec.Body)
	}
	for _, bad := range []string{`{"errorRate":2}`, `{"errorStatus":418}`, `{"latency":"soon"}`, `{"latency":"2h"}`, `{"colour":1}`} {
		if rec := do(admin, "PUT", "/fault", bad); rec.Code != 400 {
			t.Errorf("%s: %d", bad, rec.Code)
		}
	}
	do(admin, "DELETE", "/fault", "")
	if rec := do(app, "GET", "/", ""); rec.Code != 200 {
		t.Fatalf("cleared: %d", rec.Code)
	}

	var stderr bytes.Buffer
	do(admin, "POST", "/liveness/fail", "")
	if health.Probe(healthy, &stderr) == 0 {
		t.Fatal("probe still passes after /liveness/fail")
	}
	do(admin, "POST", "/liveness/restore", "")
	if health.Probe(healthy, &stderr) != 0 {
		t.Fatal("probe fails after /liveness/restore")
	}

	if rec := do(admin, "POST", "/crash", ""); rec.Code != http.StatusAccepted {
		t.Fatalf("crash: %d", rec.Code)
	}
	select {
	case <-crashed:
	case <-time.After(5 * time.Second):
		t.Fatal("POST /crash answered but did not crash")
	}
}

func TestHangHoldsTheRequestUntilTheCallerGivesUp(t *testing.T) {
	var in Injector
	_ = in.Set(Config{Hang: true})
	reached := false
	h := in.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
	if reached || ctx.Err() == nil {
		t.Fatal("a hung request reached the handler or returned before the caller gave up")
	}
}
