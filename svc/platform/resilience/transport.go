package resilience

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/overload"
)

// Transport applies a Policy per upstream host to every request.
type Transport struct {
	next      http.RoundTripper
	policyFor func(host string) Policy

	mu       sync.Mutex
	upstream map[string]*upstream
}

type upstream struct {
	policy   Policy
	breaker  *gobreaker.CircuitBreaker[*http.Response]
	inFlight chan struct{} // nil: no limit
}

// NewTransport wraps next; policyFor gives the policy for a request's host.
func NewTransport(next http.RoundTripper, policyFor func(host string) Policy) *Transport {
	return &Transport{next: next, policyFor: policyFor, upstream: map[string]*upstream{}}
}

// BreakerState reports the breaker of host: "closed", "open" or "half-open".
func (t *Transport) BreakerState(host string) string {
	return t.get(host).breaker.State().String()
}

func (t *Transport) get(host string) *upstream {
	t.mu.Lock()
	defer t.mu.Unlock()
	if u, ok := t.upstream[host]; ok {
		return u
	}
	p := t.policyFor(host)
	u := &upstream{policy: p}
	u.breaker = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        host,
		MaxRequests: 1, // one trial call when half-open
		Timeout:     p.BreakerOpenFor,
		// BreakerFailures 0: no breaker (the mesh ejects hosts instead).
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return p.BreakerFailures > 0 && c.ConsecutiveFailures >= p.BreakerFailures
		},
		// A caller that gave up is not the upstream's fault.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
	})
	if p.MaxConcurrent > 0 {
		u.inFlight = make(chan struct{}, p.MaxConcurrent)
	}
	t.upstream[host] = u
	return u
}

// errServerError marks a 5xx answer as a failure for the breaker while the
// response itself is still handed back.
var errServerError = errors.New("upstream answered 5xx")

// Repeatable reports whether a request may be sent again: its method is
// idempotent, or it carries an Idempotency-Key the upstream honours.
func Repeatable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

// maxReplayBody bounds what is buffered to replay a request body.
const maxReplayBody = 1 << 20

// RoundTrip sends req under the upstream's policy.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	u := t.get(req.URL.Host)
	if u.inFlight != nil {
		select {
		case u.inFlight <- struct{}{}:
			defer func() { <-u.inFlight }()
		default:
			closeBody(req)
			return nil, errs.E(errs.Overloaded, "%s is at its limit of %d concurrent calls", req.URL.Host, u.policy.MaxConcurrent)
		}
	}
	attempts := 1
	if Repeatable(req) {
		attempts += u.policy.Retries
		if err := makeReplayable(req); err != nil {
			return nil, err
		}
	}
	// The breaker counts calls, not attempts: a failure that a retry
	// absorbed says nothing of the upstream being down, while five calls
	// in a row that failed every attempt do. Counting attempts, a 30 %
	// error rate (the retry experiment's) opened it now and then — five
	// failed tries in a row among concurrent calls — and failed every call
	// for 30 s that retries would have saved.
	resp, err := u.breaker.Execute(func() (*http.Response, error) { return t.call(req, u, attempts) })
	switch {
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		// An open breaker answers at once: that is its point.
		return nil, errs.Wrap(errs.Unavailable, err, "%s is failing; circuit open, retry after %s", req.URL.Host, u.policy.BreakerOpenFor)
	case errors.Is(err, errServerError):
		return resp, nil // the last attempt's 5xx, handed back as it came
	}
	return resp, err
}

// call makes up to attempts tries of req, with backoff between them.
func (t *Transport) call(req *http.Request, u *upstream, attempts int) (*http.Response, error) {
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			if err := sleep(req.Context(), backoff(u.policy, attempt)); err != nil {
				return nil, err
			}
		}
		resp, err := t.try(req, u, attempt)
		switch {
		case err == nil:
			// Shed answers are handed back, not retried: another attempt now
			// would add to the very overload it reports.
			return resp, nil
		case req.Context().Err() != nil:
			if resp != nil {
				drain(resp)
			}
			return nil, req.Context().Err()
		}
		lastErr = err
		if resp != nil { // a 5xx
			if attempt == attempts-1 {
				return resp, errServerError
			}
			drain(resp)
		}
	}
	return nil, lastErr
}

// try sends one attempt under the per-try timeout; a 5xx that is not
// shedding comes back with errServerError beside the response.
func (t *Transport) try(req *http.Request, u *upstream, attempt int) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), u.policy.PerTryTimeout)
	r := req.Clone(ctx)
	if attempt > 0 && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			cancel()
			return nil, err
		}
		r.Body = body
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && req.Context().Err() == nil {
			return nil, errs.Wrap(errs.Timeout, err, "%s did not answer within %s", req.URL.Host, u.policy.PerTryTimeout)
		}
		if req.Context().Err() == nil {
			return nil, errs.Wrap(errs.Unavailable, err, "%s is unreachable", req.URL.Host)
		}
		return nil, err
	}
	// The try's deadline must outlive RoundTrip until the body is read.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	// A shed answer is the upstream protecting itself, not failing: it
	// does not count against the breaker.
	if resp.StatusCode >= 500 && !overload.IsShed(resp) {
		return resp, errServerError
	}
	return resp, nil
}

func makeReplayable(req *http.Request) error {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxReplayBody+1))
	req.Body.Close()
	if err != nil {
		return errs.Wrap(errs.Invalid, err, "request body could not be read")
	}
	if len(b) > maxReplayBody {
		return errs.E(errs.TooLarge, "request body is larger than %d bytes", maxReplayBody)
	}
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.Body, _ = req.GetBody()
	return nil
}

// backoff is full-jitter exponential backoff: uniform in [0, min(max, base*2^n)].
func backoff(p Policy, attempt int) time.Duration {
	ceiling := p.BackoffBase << (attempt - 1)
	if ceiling > p.BackoffMax || ceiling <= 0 {
		ceiling = p.BackoffMax
	}
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
