package clientlimit

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// An address is refused before its token is checked only once it has
// spent its burst of refusals; it earns them back at its rate, and an
// address never refused keeps no bucket at all.
func TestRefusalGuardChargesRefusalsToTheirAddress(t *testing.T) {
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	l := newLimiter(t, Config{RPS: 0.5, Burst: 3, Now: clk.Now})
	g := l.RefusalGuard(byHeader)
	req := func(client string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Client", client)
		return r
	}
	admit := func(client string) (bool, *httptest.ResponseRecorder) {
		rec := httptest.NewRecorder()
		return g.Admit(rec, req(client)), rec
	}
	for i := range 3 {
		if ok, rec := admit("forger"); !ok {
			t.Fatalf("refusal %d: not admitted (%d) before the burst is spent", i+1, rec.Code)
		}
		g.Refused(req("forger"))
	}
	ok, rec := admit("forger")
	if ok || rec.Code != http.StatusTooManyRequests {
		t.Fatalf("after 3 refusals: admitted %v, status %d; want 429", ok, rec.Code)
	}
	// One refusal back every 2 s.
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2", got)
	}
	if n := testutil.ToFloat64(l.rejected.WithLabelValues(ReasonRefused)); n != 1 {
		t.Fatalf("refused counter %v, want 1", n)
	}
	if ok, _ := admit("honest"); !ok {
		t.Fatal("an address never refused was not admitted")
	}
	if n := g.buckets.tracked(); n != 1 {
		t.Fatalf("%d refusal buckets, want 1 (only the forger's)", n)
	}
	clk.advance(2 * time.Second)
	if ok, _ := admit("forger"); !ok {
		t.Fatal("not admitted after earning a refusal back")
	}
}

// With the buckets off there is no guard either.
func TestNoRefusalGuardWithoutBuckets(t *testing.T) {
	if g := newLimiter(t, Config{RPS: 0}).RefusalGuard(byHeader); g != nil {
		t.Fatal("a guard with RATE_LIMIT_RPS=0")
	}
}
