// Package overload keeps a service answering when more arrives than it can
// take: at most Slots requests are served at once, a request that finds
// none free waits a little for one, and past that it is shed at once with
// 503 and Retry-After. Callers recognise a shed answer (package
// resilience): it is the callee protecting itself, not failing, so it
// neither opens a breaker nor gets retried into the same overload.
package overload

import (
	"context"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// SlotsPerCPU sizes a service from its capacity: requests in flight per
// CPU it may use (GOMAXPROCS follows the container's CPU limit). Our
// handlers spend well under a millisecond of CPU each, so this many keep
// every CPU busy while the rest wait on the database or an upstream.
const SlotsPerCPU = 128

// DefaultWait absorbs a burst shorter than itself; longer overload is shed.
const DefaultWait = 250 * time.Millisecond

// DefaultSlots is SlotsPerCPU times the CPUs this process may use.
func DefaultSlots() int { return SlotsPerCPU * runtime.GOMAXPROCS(0) }

// Limiter admits requests into a fixed number of slots.
type Limiter struct {
	slots chan struct{}
	wait  time.Duration
	shed  atomic.Int64
}

// New returns a limiter of n slots (n < 1: DefaultSlots) that lets a
// request wait up to wait for a slot.
func New(n int, wait time.Duration) *Limiter {
	if n < 1 {
		n = DefaultSlots()
	}
	return &Limiter{slots: make(chan struct{}, n), wait: wait}
}

// Shed counts the requests shed so far.
func (l *Limiter) Shed() int64 { return l.shed.Load() }

// Capacity is the number of slots.
func (l *Limiter) Capacity() int { return cap(l.slots) }

// Middleware serves next within the limit.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case l.slots <- struct{}{}:
		default:
			t := time.NewTimer(l.wait)
			select {
			case l.slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				l.reject(r.Context(), w)
				return
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		defer func() { <-l.slots }()
		next.ServeHTTP(w, r)
	})
}

func (l *Limiter) reject(ctx context.Context, w http.ResponseWriter) {
	l.shed.Add(1)
	httpx.EncodeError(ctx, errs.E(errs.Overloaded, "the service is at capacity; retry after %ds", httpx.RetryAfterSeconds), w)
}

// IsShed reports whether an answer is a shed one: 503 or 429 with a
// Retry-After, the callee's way of saying "not now" rather than "broken".
func IsShed(resp *http.Response) bool {
	return (resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests) &&
		resp.Header.Get("Retry-After") != ""
}
