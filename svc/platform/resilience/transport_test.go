package resilience

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/errs"
)

// fastPolicy keeps the mesh's counts but shrinks the waits so tests run
// quickly; no assertion depends on how long anything took.
func fastPolicy() Policy {
	p := Default(contract.Payment, contract.ResilienceServing, contract.ResilienceInApp)
	p.BackoffBase, p.BackoffMax = time.Millisecond, 2*time.Millisecond
	p.BreakerOpenFor = 50 * time.Millisecond
	return p
}

func client(p Policy) (*http.Client, *Transport) {
	tr := NewTransport(http.DefaultTransport, func(string) Policy { return p })
	return &http.Client{Transport: tr}, tr
}

// script answers with the given statuses in turn, then 200s.
type script struct {
	mu       sync.Mutex
	statuses []int
	calls    atomic.Int64
	bodies   []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	status := 200
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.mu.Unlock()
	w.WriteHeader(status)
}

func TestRetriesRescueTransient500sAndReplayTheBody(t *testing.T) {
	up := &script{statuses: []int{500, 503}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	c, _ := client(fastPolicy())
	req, _ := http.NewRequest("POST", srv.URL+"/payments", strings.NewReader(`{"amount":10000}`))
	req.Header.Set("Idempotency-Key", "res01")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || up.calls.Load() != 3 {
		t.Fatalf("status %d after %d calls, want 200 after 3", resp.StatusCode, up.calls.Load())
	}
	for _, b := range up.bodies {
		if b != `{"amount":10000}` {
			t.Fatalf("retried body %q", b)
		}
	}
}

func TestRetriesStopAtTheMeshAttempts(t *testing.T) {
	up := &script{statuses: []int{500, 500, 500, 500, 500, 500}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	c, _ := client(fastPolicy())
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || up.calls.Load() != 1+contract.RetryAttempts {
		t.Fatalf("status %d after %d calls, want the last 500 after %d", resp.StatusCode, up.calls.Load(), 1+contract.RetryAttempts)
	}
}

// Five failed tries that retries absorbed are not five failed calls: the
// breaker counts calls. (Counting tries, the cluster's retry experiment —
// payment failing 30 % of calls — opened it now and then and lost every
// booking for 30 s.) Calls that fail every try still open it.
func TestBreakerCountsCallsNotTheTriesRetriesAbsorbed(t *testing.T) {
	p := fastPolicy()
	p.Retries = int(contract.Consecutive5xxErrors)
	up := &script{statuses: []int{500, 500, 500, 500, 500}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	c, tr := client(p)
	host := strings.TrimPrefix(srv.URL, "http://")
	post := func() (int, error) {
		req, _ := http.NewRequest("POST", srv.URL+"/payments", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "res01")
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if status, err := post(); err != nil || status != 200 || up.calls.Load() != 6 {
		t.Fatalf("status %d (%v) after %d tries, want 200 after 6", status, err, up.calls.Load())
	}
	if got := tr.BreakerState(host); got != "closed" {
		t.Fatalf("breaker %s after one call that a retry saved", got)
	}
	up.mu.Lock()
	for range 6 * int(contract.Consecutive5xxErrors) {
		up.statuses = append(up.statuses, 500)
	}
	up.mu.Unlock()
	for i := range int(contract.Consecutive5xxErrors) {
		if status, err := post(); err != nil || status != 500 {
			t.Fatalf("failing call %d: status %d, %v", i, status, err)
		}
	}
	if got := tr.BreakerState(host); got != "open" {
		t.Fatalf("breaker %s after %d calls that failed every try", got, int(contract.Consecutive5xxErrors))
	}
}

func TestNonIdempotentCallIsNotRetried(t *testing.T) {
	up := &script{statuses: []int{500}}
	srv := httptest.NewServer(up)
	defer srv.Close()
	c, _ := client(fastPolicy())
	resp, err := c.Post(srv.URL+"/carReservations", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 500 || up.calls.Load() != 1 {
		t.Fatalf("POST without Idempotency-Key: %d calls, want 1", up.calls.Load())
	}
}

func TestTimeoutBoundsEachTry(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select { // the first try hangs until the client gives up on it
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	defer close(release)
	p := fastPolicy()
	p.PerTryTimeout = 100 * time.Millisecond
	c, _ := client(p)
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || calls.Load() != 2 {
		t.Fatalf("status %d after %d calls: the hung try was not cut off and retried", resp.StatusCode, calls.Load())
	}

	p.Retries = 0
	c, _ = client(p)
	calls.Store(0)
	_, err = c.Get(srv.URL)
	if errs.CodeOf(err) != errs.Timeout {
		t.Fatalf("a single hung try: %v (code %s), want a timeout", err, errs.CodeOf(err))
	}
}

func TestBreakerOpensFailsFastHalfOpensAndCloses(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if failing.Load() {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	p := fastPolicy()
	p.Retries = 0
	p.BreakerOpenFor = time.Hour // opened now, half-opened by hand below
	c, tr := client(p)
	host := strings.TrimPrefix(srv.URL, "http://")
	for i := 0; i < int(contract.Consecutive5xxErrors); i++ {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		resp.Body.Close()
	}
	if got := tr.BreakerState(host); got != "open" {
		t.Fatalf("after %d consecutive 5xx the breaker is %s", int(contract.Consecutive5xxErrors), got)
	}
	before := calls.Load()
	_, err := c.Get(srv.URL)
	if errs.CodeOf(err) != errs.Unavailable || calls.Load() != before {
		t.Fatalf("open breaker: err %v, upstream called %d more times", err, calls.Load()-before)
	}

	// Half-open after the ejection time: a short one this time.
	p.BreakerOpenFor = 20 * time.Millisecond
	c, tr = client(p)
	for i := 0; i < int(contract.Consecutive5xxErrors); i++ {
		resp, _ := c.Get(srv.URL)
		resp.Body.Close()
	}
	failing.Store(false)
	deadline := time.Now().Add(5 * time.Second)
	for tr.BreakerState(host) != "half-open" {
		if time.Now().After(deadline) {
			t.Fatalf("breaker never half-opened (state %s)", tr.BreakerState(host))
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := c.Get(srv.URL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("trial call: %v", err)
	}
	resp.Body.Close()
	if got := tr.BreakerState(host); got != "closed" {
		t.Fatalf("after a successful trial the breaker is %s", got)
	}
}

func TestConcurrencyLimitShedsTheExcessFast(t *testing.T) {
	hold := make(chan struct{})
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-hold
	}))
	defer srv.Close()
	p := Default(contract.Management, contract.ResilienceWriteUp, contract.ResilienceInApp) // the write-up's pool: 1 connection + 1 pending
	c, _ := client(p)
	var wg sync.WaitGroup
	for i := 0; i < p.MaxConcurrent; i++ {
		wg.Go(func() {
			if resp, err := c.Get(srv.URL); err == nil {
				resp.Body.Close()
			}
		})
	}
	for i := 0; i < p.MaxConcurrent; i++ {
		<-arrived
	}
	_, err := c.Get(srv.URL)
	close(hold)
	wg.Wait()
	if errs.CodeOf(err) != errs.Overloaded || !strings.Contains(err.Error(), "concurrent") {
		t.Fatalf("call over the limit: %v", err)
	}
}

func TestCanceledCallerDoesNotTripTheBreaker(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	p := fastPolicy()
	c, tr := client(p)
	for i := 0; i < 2*int(contract.Consecutive5xxErrors); i++ {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		go func() { time.Sleep(5 * time.Millisecond); cancel() }()
		_, err := c.Do(req)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
	}
	if got := tr.BreakerState(strings.TrimPrefix(srv.URL, "http://")); got != "closed" {
		t.Fatalf("breaker %s after callers gave up", got)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{"RESILIENCE_PAYMENT_RETRIES": "0", "RESILIENCE_PAYMENT_PER_TRY_TIMEOUT": "500ms"}
	p, err := FromEnv(contract.Payment, func(k string) string { return env[k] })
	if err != nil || p.Retries != 0 || p.PerTryTimeout != 500*time.Millisecond || p.BreakerFailures != 5 {
		t.Fatalf("%+v %v", p, err)
	}
	env["RESILIENCE_PAYMENT_RETRIES"] = "many"
	if _, err := FromEnv(contract.Payment, func(k string) string { return env[k] }); err == nil {
		t.Fatal("accepted a bad retry count")
	}
}

func TestDefaultsMirrorTheMesh(t *testing.T) {
	// The write-up's VirtualService (attempts 3, perTryTimeout 2s) and
	// DestinationRule (5 consecutive errors, 30s ejection) in the app; its
	// demo pool (1 connection + 1 pending request on management) only
	// under its profile.
	p := Default(contract.Management, contract.ResilienceWriteUp, contract.ResilienceInApp)
	if p.Retries != 3 || p.PerTryTimeout != 2*time.Second || p.BreakerFailures != 5 || p.BreakerOpenFor != 30*time.Second || p.MaxConcurrent != 2 {
		t.Fatalf("%+v", p)
	}
	if Default(contract.Payment, contract.ResilienceWriteUp, contract.ResilienceInApp).MaxConcurrent != 0 {
		t.Fatal("the connection pool limit belongs to management only")
	}
	if got := Default(contract.Management, contract.ResilienceServing, contract.ResilienceInApp).MaxConcurrent; got != 0 {
		t.Fatalf("the serving profile has a pool of %d on management", got)
	}
}

// Under the mesh the app makes one attempt per call, however it fails:
// the mesh's retries are the only ones, so attempts never multiply.
func TestMeshLayerMakesOneAttempt(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	env := map[string]string{contract.EnvResilienceLayer: contract.ResilienceMesh}
	p, err := FromEnv(contract.Payment, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	c, tr := client(p)
	for range 3 * int(contract.Consecutive5xxErrors) {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("{}"))
		req.Header.Set("Idempotency-Key", "k") // repeatable: the app would retry it
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got, want := calls.Load(), int64(3*contract.Consecutive5xxErrors); got != want {
		t.Fatalf("%d attempts for %d calls under the mesh", got, want)
	}
	if got := tr.BreakerState(strings.TrimPrefix(srv.URL, "http://")); got != "closed" {
		t.Fatalf("app breaker %s under the mesh (the mesh ejects hosts)", got)
	}
	if p.PerTryTimeout < time.Duration(contract.RetryAttempts+1)*contract.PerTryTimeout {
		t.Fatalf("app timeout %s cuts the mesh's attempts short", p.PerTryTimeout)
	}
}

// A shed answer (503 with Retry-After) is the upstream protecting itself:
// handed back at once, never retried, never counted by the breaker.
func TestShedAnswersAreNeitherRetriedNorCounted(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	p := fastPolicy()
	c, tr := client(p)
	n := 3 * int(p.BreakerFailures)
	for range n {
		resp, err := c.Get(srv.URL)
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("shed answer: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	if calls.Load() != int64(n) {
		t.Fatalf("%d upstream calls for %d requests: shed answers were retried", calls.Load(), n)
	}
	if got := tr.BreakerState(strings.TrimPrefix(srv.URL, "http://")); got != "closed" {
		t.Fatalf("breaker %s after %d shed answers", got, n)
	}
}
