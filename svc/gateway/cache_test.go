package gateway_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/gateway"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/endpointmw"
)

// cachedWorld is the gateway in front of a management that counts the
// reads it is asked and answers staff 200 (with a version that each
// write bumps) and anyone else 403.
type cachedWorld struct {
	h       http.Handler
	reg     *prometheus.Registry
	reads   atomic.Int64
	version atomic.Int64
	gate    chan struct{} // when set, reads wait for it
}

func newCachedWorld(t *testing.T, ttl time.Duration) *cachedWorld {
	t.Helper()
	w := &cachedWorld{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.version.Add(1)
			rw.WriteHeader(http.StatusCreated)
			return
		}
		w.reads.Add(1)
		if w.gate != nil {
			<-w.gate
		}
		if r.Header.Get("X-Role") != contract.RoleStaff {
			rw.WriteHeader(http.StatusForbidden)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Link", `</carManagements?cursor=next>; rel="next"`)
		fmt.Fprintf(rw, `{"path":%q,"version":%d}`, r.URL.RequestURI(), w.version.Load())
	}))
	t.Cleanup(srv.Close)
	// The test's stand-in for the forwarded token: the role travels in a
	// header the upstream reads.
	tr := roundTripper(func(r *http.Request) (*http.Response, error) {
		if id := auth.FromContext(r.Context()); id != nil && len(id.Roles) > 0 {
			r.Header.Set("X-Role", id.Roles[0])
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	reg := prometheus.NewRegistry()
	h, err := gateway.New(func(contract.Service) string { return srv.URL }, tr,
		slog.New(slog.NewTextHandler(io.Discard, nil)), endpointmw.NewMetrics(reg, "gateway"), ttl, reg)
	if err != nil {
		t.Fatal(err)
	}
	w.h, w.reg = h, reg
	return w
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (w *cachedWorld) do(t *testing.T, method, target, role string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if role != "" {
		r = r.WithContext(auth.WithIdentity(r.Context(), &auth.Identity{Kind: auth.User, Subject: role + "01", Roles: []string{role}}))
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, r)
	return rec
}

func TestReadCacheAnswersRepeatedReadsOfTheCarList(t *testing.T) {
	w := newCachedWorld(t, time.Hour)
	first := w.do(t, "GET", "/carManagements?limit=2", contract.RoleStaff)
	for range 5 {
		again := w.do(t, "GET", "/carManagements?limit=2", contract.RoleStaff)
		if again.Code != 200 || again.Body.String() != first.Body.String() || again.Header().Get("X-Cache") != "HIT" {
			t.Fatalf("a repeated read: %d %q X-Cache %q, want the first answer from the cache", again.Code, again.Body, again.Header().Get("X-Cache"))
		}
		if again.Header().Get("Link") == "" || again.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("the cached answer lost its headers: %v", again.Header())
		}
	}
	if n := w.reads.Load(); n != 1 {
		t.Fatalf("management was asked %d times for one page, want 1", n)
	}
	for result, want := range map[string]float64{gateway.CacheHit: 5, gateway.CacheMiss: 1, gateway.CacheShared: 0} {
		if got := counted(t, w.reg, result); got != want {
			t.Errorf("%s counted %v, want %v", result, got, want)
		}
	}
	// Another page is another entry; one car is never cached.
	w.do(t, "GET", "/carManagements?limit=3", contract.RoleStaff)
	w.do(t, "GET", "/carManagements/car01", contract.RoleStaff)
	w.do(t, "GET", "/carManagements/car01", contract.RoleStaff)
	if n := w.reads.Load(); n != 4 {
		t.Fatalf("management asked %d times, want 4 (one more page, one car twice)", n)
	}
}

// A client sees its own writes: a write through the gateway drops what
// was cached, so the next read asks management again.
func TestReadCacheDropsEverythingOnAWrite(t *testing.T) {
	w := newCachedWorld(t, time.Hour)
	before := w.do(t, "GET", "/carManagements", contract.RoleStaff).Body.String()
	if got := w.do(t, "POST", "/carManagements", contract.RoleStaff).Code; got != 201 {
		t.Fatalf("write: %d", got)
	}
	after := w.do(t, "GET", "/carManagements", contract.RoleStaff)
	if after.Body.String() == before || after.Header().Get("X-Cache") == "HIT" {
		t.Fatalf("after a write the read answered %q (%s), the same as before it", after.Body, after.Header().Get("X-Cache"))
	}
	for _, m := range []string{"PATCH", "DELETE"} {
		w.do(t, "GET", "/carManagements", contract.RoleStaff)
		w.do(t, m, "/carManagements/car01", contract.RoleStaff)
		if got := w.do(t, "GET", "/carManagements", contract.RoleStaff).Header().Get("X-Cache"); got == "HIT" {
			t.Fatalf("a read after %s of one car came from the cache", m)
		}
	}
}

// The cache serves an answer only to identities with the roles it was
// fetched for; a refusal is never kept; no-cache and a TTL of 0 skip it.
func TestReadCacheNeverServesStaffsAnswerToOthers(t *testing.T) {
	w := newCachedWorld(t, time.Hour)
	w.do(t, "GET", "/carManagements", contract.RoleStaff)
	for _, role := range []string{contract.RoleCustomer, ""} {
		for range 2 {
			if got := w.do(t, "GET", "/carManagements", role); got.Code != 403 {
				t.Fatalf("%q after staff's read: %d %s, want management's 403", role, got.Code, got.Body)
			}
		}
	}
	if n := w.reads.Load(); n != 5 {
		t.Fatalf("management asked %d times, want 5 (staff once, each refusal asked again)", n)
	}
	if got := w.do(t, "GET", "/carManagements", contract.RoleStaff, "Cache-Control", "no-cache"); got.Header().Get("X-Cache") != "" {
		t.Fatalf("no-cache answered %s", got.Header().Get("X-Cache"))
	}
	off := newCachedWorld(t, 0)
	off.do(t, "GET", "/carManagements", contract.RoleStaff)
	off.do(t, "GET", "/carManagements", contract.RoleStaff)
	if n := off.reads.Load(); n != 2 {
		t.Fatalf("with the cache off management was asked %d times for 2 reads", n)
	}
}

func TestReadCacheEntriesExpire(t *testing.T) {
	const ttl = 50 * time.Millisecond
	w := newCachedWorld(t, ttl)
	w.do(t, "GET", "/carManagements", contract.RoleStaff)
	time.Sleep(ttl + 20*time.Millisecond)
	if got := w.do(t, "GET", "/carManagements", contract.RoleStaff).Header().Get("X-Cache"); got == "HIT" {
		t.Fatal("an entry older than the TTL was served")
	}
	if n := w.reads.Load(); n != 2 {
		t.Fatalf("management asked %d times, want 2", n)
	}
}

// Concurrent misses of one page make one upstream call, and a client
// that leaves does not fail the others waiting on it.
func TestReadCacheCoalescesConcurrentMisses(t *testing.T) {
	w := newCachedWorld(t, time.Hour)
	w.gate = make(chan struct{})
	const clients = 20
	var wg sync.WaitGroup
	bodies := make([]string, clients)
	for i := range clients {
		wg.Go(func() { bodies[i] = w.do(t, "GET", "/carManagements", contract.RoleStaff).Body.String() })
	}
	for w.reads.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // the others join the flight
	close(w.gate)
	wg.Wait()
	if n := w.reads.Load(); n != 1 {
		t.Fatalf("%d concurrent reads of one page asked management %d times, want 1", clients, n)
	}
	for i, b := range bodies {
		if !strings.Contains(b, `"version":0`) {
			t.Fatalf("client %d got %q", i, b)
		}
	}
}

// counted is MetricReadCache's count of result.
func counted(t *testing.T, reg *prometheus.Registry, result string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != contract.Metric(contract.Gateway, contract.MetricReadCache) {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == contract.LabelResult && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s series for %s", contract.MetricReadCache, result)
	return 0
}
