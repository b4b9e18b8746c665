package clientlimit

import (
	"net/http"

	"github.com/carrental/carrental/svc/platform/errs"
)

// RefusalGuard bounds what a client's refused tokens cost the service.
// Checking a token's signature is the dearest thing the gateway does
// before any limit applies, and a forged token is refused before the
// client's bucket is reached: without the guard a flood of them costs a
// signature check each. Every refusal spends a token of its address's
// refusal bucket (the client's own rate and burst); once that is empty,
// the address's next tokens are refused with 429 and Retry-After without
// being checked. A client whose tokens verify never gets a bucket.
type RefusalGuard struct {
	l       *Limiter
	key     func(*http.Request) string
	buckets *buckets
}

// RefusalGuard is the guard of refused tokens keyed by key (the client's
// address: a refused token names no one), with the limiter's rate and
// burst and its rejected counter (reason "refused"). Nil when the
// limiter's buckets are off (RATE_LIMIT_RPS=0).
func (l *Limiter) RefusalGuard(key func(*http.Request) string) *RefusalGuard {
	if l.buckets == nil {
		return nil
	}
	return &RefusalGuard{l: l, key: key, buckets: newBuckets(l.cfg.RPS, l.cfg.Burst, l.cfg.MaxClients)}
}

// Admit says whether r's token may be checked. When its address has
// spent its refusals it answers r itself, 429 with Retry-After, and
// returns false.
func (g *RefusalGuard) Admit(w http.ResponseWriter, r *http.Request) bool {
	ok, wait := g.buckets.peek(g.key(r), g.l.cfg.Now())
	if ok {
		return true
	}
	secs := retryAfterSeconds(wait)
	g.l.refuse(w, r, ReasonRefused, secs, errs.E(errs.RateLimited, "too many refused tokens from this client; retry after %ds", secs))
	return false
}

// Refused charges a refused token to r's address.
func (g *RefusalGuard) Refused(r *http.Request) {
	g.buckets.take(g.key(r), g.l.cfg.Now())
}
