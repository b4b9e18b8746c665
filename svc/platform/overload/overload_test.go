package overload

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Within capacity every request is served; a short burst beyond it waits
// for a slot; what cannot get one within the wait is shed at once, with
// 503, Retry-After and a JSON body, and the very next request after the
// burst is served.
func TestLimiterServesWaitsThenSheds(t *testing.T) {
	release := make(chan struct{})
	// A wait far longer than the 10 ms release below: on a loaded
	// machine a 30 ms wait lost that race and the test failed.
	l := New(2, 200*time.Millisecond)
	h := l.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/hold", nil)) })
	}
	time.Sleep(20 * time.Millisecond) // both slots taken

	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	took := time.Since(start)
	var body struct{ Code string }
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || body.Code != "overloaded" {
		t.Fatalf("over capacity: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if took > time.Second {
		t.Fatalf("shed after %s: not fast", took)
	}
	if !IsShed(rec.Result()) || l.Shed() != 1 {
		t.Fatalf("IsShed %v, shed count %d", IsShed(rec.Result()), l.Shed())
	}

	// A request that arrives while a slot frees within the wait is served.
	go func() { time.Sleep(10 * time.Millisecond); release <- struct{}{} }()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Fatalf("a slot freed within the wait, yet %d", rec.Code)
	}
	close(release)
	wg.Wait()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 {
		t.Fatalf("after the burst: %d", rec.Code)
	}
	if plain := httptest.NewRecorder(); IsShed(plain.Result()) {
		t.Fatal("a 200 counted as shed")
	}
}
