package clientlimit

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// gate is a handler of fixed capacity whose requests finish one at a time
// when the test says so, recording whom it served.
type gate struct {
	entered chan string
	finish  chan struct{}
}

func newGate() *gate { return &gate{entered: make(chan string, 100), finish: make(chan struct{})} }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.entered <- r.Header.Get("X-Client")
	<-g.finish
	w.WriteHeader(http.StatusNoContent)
}

// A flooder fills the only slot and more, then a normal client asks once.
// The flooder's excess beyond its queue gets 429 at once; the normal
// client is served as soon as the flooder's next-in-line has been, not
// after all of the flooder's queue (which FIFO admission would do).
func TestFairAdmissionServesTheNormalClientBesideAFlooder(t *testing.T) {
	const perClient = 4
	l := newLimiter(t, Config{Slots: 1, QueuePerClient: perClient, Wait: time.Hour})
	g := newGate()
	h := l.Middleware(g)

	codes := make(chan int, 100)
	var wg sync.WaitGroup
	async := func(client string) {
		wg.Go(func() { codes <- send(h, client).Code })
	}
	async("flooder")
	if got := <-g.entered; got != "flooder" {
		t.Fatalf("first in: %s", got)
	}
	const flood = 10
	for range flood {
		async("flooder")
	}
	// Everything past the flooder's queue is refused at once.
	for range flood - perClient {
		if code := <-codes; code != http.StatusTooManyRequests {
			t.Fatalf("flooder past its queue: %d, want 429", code)
		}
	}
	waitFor(t, func() bool { return l.admit.waiting("flooder") == perClient })
	async("normal")
	waitFor(t, func() bool { return l.admit.waiting("normal") == 1 })

	var order []string
	for range perClient + 1 {
		g.finish <- struct{}{}
		order = append(order, <-g.entered)
	}
	g.finish <- struct{}{}
	wg.Wait()
	// Round-robin from the flooder (queued first): its next one, then the
	// normal client, then the rest of the flooder's.
	want := []string{"flooder", "normal", "flooder", "flooder", "flooder"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("served in order %v, want %v", order, want)
		}
	}
	close(codes)
	served := 0
	for code := range codes {
		if code == http.StatusNoContent {
			served++
		}
	}
	if served != 1+perClient+1 {
		t.Fatalf("%d served, want %d", served, 1+perClient+1)
	}
	if got := testutil.ToFloat64(l.rejected.WithLabelValues(ReasonQueue)); got != flood-perClient {
		t.Fatalf("rejected{reason=queue} = %v, want %d", got, flood-perClient)
	}
}

// Turns go round every waiting client: with three clients queued the
// freed slots go a, b, c, a, b, c, however the requests arrived.
func TestAdmissionRoundRobin(t *testing.T) {
	a := newAdmission(1, 16, time.Hour)
	ctx := context.Background()
	if err := a.acquire(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	var wg sync.WaitGroup
	for i, k := range []string{"a", "a", "b", "a", "b", "c"} {
		wg.Go(func() {
			if err := a.acquire(ctx, k); err != nil {
				t.Error(err)
				return
			}
			got <- k
		})
		// Queued in exactly this order.
		waitFor(t, func() bool { return a.queued() == i+1 })
	}
	var order []string
	for range 6 {
		a.release()
		order = append(order, <-got)
	}
	wg.Wait()
	want := []string{"a", "b", "c", "a", "b", "a"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("turns %v, want %v", order, want)
		}
	}
	// Nobody waits: the slot returns to the pool.
	a.release()
	if err := a.acquire(ctx, "z"); err != nil {
		t.Fatal(err)
	}
}

// A request that gives up (its client left, or it waited too long) leaves
// the queue, and the slot it might have got goes to the next.
func TestAdmissionGivingUp(t *testing.T) {
	a := newAdmission(1, 16, time.Hour)
	if err := a.acquire(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.acquire(ctx, "leaver") }()
	waitFor(t, func() bool { return a.waiting("leaver") == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled wait: %v", err)
	}
	if a.waiting("leaver") != 0 || len(a.ring) != 0 {
		t.Fatalf("a canceled request still queued: %d waiting, ring %d", a.waiting("leaver"), len(a.ring))
	}
	short := newAdmission(1, 16, time.Millisecond)
	_ = short.acquire(context.Background(), "x")
	if err := short.acquire(context.Background(), "late"); !errors.Is(err, errWaited) {
		t.Fatalf("wait past the bound: %v", err)
	}
	a.release()
	if err := a.acquire(context.Background(), "next"); err != nil {
		t.Fatalf("the freed slot was lost: %v", err)
	}
}

// Past the wait the answer is the overload one: 503, code overloaded,
// Retry-After.
func TestAdmissionWaitedTooLongIsShed(t *testing.T) {
	l := newLimiter(t, Config{Slots: 1, Wait: time.Millisecond})
	g := newGate()
	h := l.Middleware(g)
	done := make(chan struct{})
	go func() { send(h, "a"); close(done) }()
	<-g.entered
	rec := send(h, "b")
	g.finish <- struct{}{}
	<-done
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("waited too long: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 10000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition never held")
}
