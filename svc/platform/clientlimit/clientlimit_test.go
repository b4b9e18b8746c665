package clientlimit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/carrental/carrental/svc/platform/httpx"
)

// clock is a settable time for the buckets.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func byHeader(r *http.Request) string { return r.Header.Get("X-Client") }

func newLimiter(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	if cfg.Key == nil {
		cfg.Key = byHeader
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func send(h http.Handler, client string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("X-Client", client)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func TestBucketAllowsTheBurstThenRefusesWithRetryAfter(t *testing.T) {
	for _, c := range []struct {
		name       string
		rps        float64
		burst      int
		retryAfter string // after the burst is spent
		refill     time.Duration
	}{
		// The next token is 20 ms away: Retry-After rounds up to 1 s.
		{"defaults", DefaultRPS, DefaultBurst, "1", 20 * time.Millisecond},
		// One token every 10 s.
		{"slow", 0.1, 3, "10", 10 * time.Second},
		// 2.5 s per token: rounded up, not down.
		{"fractional", 0.4, 1, "3", 2500 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &clock{now: time.Unix(1e9, 0)}
			l := newLimiter(t, Config{RPS: c.rps, Burst: c.burst, Now: clk.Now})
			h := l.Middleware(ok)
			for i := range c.burst {
				if rec := send(h, "a"); rec.Code != http.StatusNoContent {
					t.Fatalf("request %d of the burst: %d %s", i+1, rec.Code, rec.Body)
				}
			}
			rec := send(h, "a")
			if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != c.retryAfter {
				t.Fatalf("past the burst: %d Retry-After %q, want 429 Retry-After %s", rec.Code, rec.Header().Get("Retry-After"), c.retryAfter)
			}
			var body httpx.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != "rate_limited" || body.Message == "" {
				t.Fatalf("429 body %q (%v)", rec.Body, err)
			}
			// Another client has its own bucket.
			if rec := send(h, "b"); rec.Code != http.StatusNoContent {
				t.Fatalf("another client: %d", rec.Code)
			}
			// A refused request spends nothing: one refill later exactly
			// one more is served.
			clk.advance(c.refill)
			if rec := send(h, "a"); rec.Code != http.StatusNoContent {
				t.Fatalf("after a refill: %d", rec.Code)
			}
			if rec := send(h, "a"); rec.Code != http.StatusTooManyRequests {
				t.Fatalf("second after one refill: %d", rec.Code)
			}
			if got := testutil.ToFloat64(l.rejected.WithLabelValues(ReasonRate)); got != 2 {
				t.Fatalf("rejected{reason=rate} = %v, want 2", got)
			}
		})
	}
}

func TestExemptRequestsSkipTheBucket(t *testing.T) {
	clk := &clock{now: time.Unix(1e9, 0)}
	l := newLimiter(t, Config{RPS: 1, Burst: 1, Now: clk.Now, Exempt: func(r *http.Request) bool { return r.Header.Get("X-Client") == "staff" }})
	h := l.Middleware(ok)
	for range 10 {
		if rec := send(h, "staff"); rec.Code != http.StatusNoContent {
			t.Fatalf("exempt: %d", rec.Code)
		}
	}
	send(h, "cus")
	if rec := send(h, "cus"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("not exempt: %d", rec.Code)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, c := range []struct {
		wait time.Duration
		want int
	}{{0, 1}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {59500 * time.Millisecond, 60}} {
		if got := retryAfterSeconds(c.wait); got != c.want {
			t.Errorf("retryAfterSeconds(%s) = %d, want %d", c.wait, got, c.want)
		}
	}
}

func TestBucketsStayBounded(t *testing.T) {
	clk := &clock{now: time.Unix(1e9, 0)}
	// A full refill takes 2 s.
	l := newLimiter(t, Config{RPS: 1, Burst: 2, MaxClients: 3, Now: clk.Now})
	h := l.Middleware(ok)
	for i := range 50 {
		send(h, "spoofed"+strconv.Itoa(i))
		if n := l.buckets.tracked(); n > 3 {
			t.Fatalf("%d buckets tracked after %d clients, want at most 3", n, i+1)
		}
	}
	// At the cap, the least recently seen goes: a client active all along
	// keeps its (empty) bucket while others come and go.
	send(h, "steady")
	send(h, "steady")
	for i := range 5 {
		send(h, "steady-neighbour"+strconv.Itoa(i%2))
		if rec := send(h, "steady"); rec.Code != http.StatusTooManyRequests {
			t.Fatalf("round %d: the steady client's spent bucket was forgotten (%d)", i, rec.Code)
		}
	}
	// Idle for a full refill: forgotten when the next client arrives,
	// which changes nothing for them (a new bucket is full too).
	clk.advance(2 * time.Second)
	send(h, "late")
	if n := l.buckets.tracked(); n != 1 {
		t.Fatalf("%d buckets after everyone else idled a full refill, want 1", n)
	}
}

func TestNewRefusesWhatItCannotRun(t *testing.T) {
	for _, cfg := range []Config{
		{RPS: 1, Burst: 1},                 // no Key
		{RPS: -1, Burst: 1, Key: byHeader}, // negative rate
		{RPS: 5, Burst: 0, Key: byHeader},  // a rate with no burst serves nobody
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(Config{Key: byHeader}); err != nil {
		t.Errorf("rate 0 (off): %v", err)
	}
}
