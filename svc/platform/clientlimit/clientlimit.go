// Package clientlimit keeps one client from taking what belongs to all:
// a token bucket per client (its steady rate and burst; past them, 429
// with a Retry-After computed from the bucket) and fair admission into
// the service's concurrency (while clients compete for it, each gets an
// equal share: a flooding client queues behind its own requests, at most
// a few of them, then gets 429). Who a client is, is the caller's choice
// (Config.Key): the gateway keys by the token's subject, or by the
// address (Address) when there is none.
package clientlimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/overload"
)

// Defaults: the rate and burst are the contract's (the stack sets them
// too).
const (
	DefaultRPS            = contract.DefaultRateLimitRPS
	DefaultBurst          = contract.DefaultRateLimitBurst
	DefaultQueuePerClient = 16
	// DefaultMaxClients bounds the buckets kept (a few hundred bytes each:
	// tens of MB at most).
	DefaultMaxClients = 100_000
)

// Config of a Limiter; zero values take the defaults noted.
type Config struct {
	// RPS is each client's steady rate, Burst what it may send at once
	// above it. RPS 0 turns the buckets off (fair admission remains).
	RPS   float64
	Burst int
	// Slots is how many requests are served at once (default
	// overload.DefaultSlots()); QueuePerClient how many of one client's
	// may wait for a slot (default 16); Wait how long one waits before it
	// is shed with 503 (default overload.DefaultWait).
	Slots          int
	QueuePerClient int
	Wait           time.Duration
	MaxClients     int // buckets kept at most (default DefaultMaxClients)
	// Key names the client of a request (required). Exempt requests
	// (staff, services) skip the bucket; they still take their turn for
	// a slot.
	Key    func(*http.Request) string
	Exempt func(*http.Request) bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Service whose rejected counter this is
	// (contract.Metric(Service, contract.MetricClientRejected)).
	Service contract.Service
}

// Limiter is the per-client limit and fair admission of one service.
type Limiter struct {
	cfg      Config
	buckets  *buckets // nil when RPS is 0
	admit    *admission
	rejected *prometheus.CounterVec
}

// Reasons a request is refused, the rejected counter's reason label.
const (
	ReasonRate  = "rate"  // the client's bucket is empty: 429
	ReasonQueue = "queue" // the client already has QueuePerClient waiting: 429
	ReasonWait  = "wait"  // no slot came in time: 503
	// ReasonRefused: the address has spent its refused tokens (429
	// before its next token is checked; RefusalGuard).
	ReasonRefused = "refused"
)

// New returns a Limiter; a Config it cannot run is an error.
func New(cfg Config) (*Limiter, error) {
	if cfg.Key == nil {
		return nil, errors.New("clientlimit: Config.Key is required")
	}
	if cfg.RPS < 0 || (cfg.RPS > 0 && cfg.Burst < 1) {
		return nil, fmt.Errorf("clientlimit: rate %v/s with burst %d: want a rate of 0 (off) or more, and a burst of at least 1", cfg.RPS, cfg.Burst)
	}
	if cfg.Slots < 1 {
		cfg.Slots = overload.DefaultSlots()
	}
	if cfg.QueuePerClient < 1 {
		cfg.QueuePerClient = DefaultQueuePerClient
	}
	if cfg.Wait <= 0 {
		cfg.Wait = overload.DefaultWait
	}
	if cfg.MaxClients < 1 {
		cfg.MaxClients = DefaultMaxClients
	}
	if cfg.Exempt == nil {
		cfg.Exempt = func(*http.Request) bool { return false }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg, admit: newAdmission(cfg.Slots, cfg.QueuePerClient, cfg.Wait),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: contract.Metric(cfg.Service, contract.MetricClientRejected),
			Help: "Requests refused to protect the other clients: rate (429, the client's bucket was empty), queue (429, too many of its requests waiting), wait (503, no slot in time), refused (429, too many refused tokens from its address).",
		}, []string{contract.LabelReason})}
	if cfg.RPS > 0 {
		l.buckets = newBuckets(cfg.RPS, cfg.Burst, cfg.MaxClients)
	}
	for _, r := range []string{ReasonRate, ReasonQueue, ReasonWait, ReasonRefused} {
		l.rejected.WithLabelValues(r) // present at 0 from the start
	}
	return l, nil
}

// Collector is the rejected-requests counter, for the service's registry.
func (l *Limiter) Collector() prometheus.Collector { return l.rejected }

// Slots is how many requests are served at once.
func (l *Limiter) Slots() int { return l.cfg.Slots }

// Middleware serves next within the client's limits.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := l.cfg.Key(r)
		if l.buckets != nil && !l.cfg.Exempt(r) {
			if ok, wait := l.buckets.take(key, l.cfg.Now()); !ok {
				secs := retryAfterSeconds(wait)
				l.refuse(w, r, ReasonRate, secs, errs.E(errs.RateLimited, "too many requests from this client; retry after %ds", secs))
				return
			}
		}
		switch err := l.admit.acquire(r.Context(), key); {
		case err == nil:
		case errors.Is(err, errQueueFull):
			l.refuse(w, r, ReasonQueue, httpx.RetryAfterSeconds, errs.E(errs.RateLimited, "too many requests from this client waiting; retry after %ds", httpx.RetryAfterSeconds))
			return
		case errors.Is(err, errWaited):
			l.refuse(w, r, ReasonWait, httpx.RetryAfterSeconds, errs.E(errs.Overloaded, "the service is at capacity; retry after %ds", httpx.RetryAfterSeconds))
			return
		default:
			return // the client left
		}
		defer l.admit.release()
		next.ServeHTTP(w, r)
	})
}

func (l *Limiter) refuse(w http.ResponseWriter, r *http.Request, reason string, retryAfter int, err error) {
	l.rejected.WithLabelValues(reason).Inc()
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	httpx.EncodeError(context.WithoutCancel(r.Context()), err, w)
}
