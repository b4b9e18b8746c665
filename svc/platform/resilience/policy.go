// Package resilience makes every synchronous call between services behave
// like the mesh the write-up configured, without needing the mesh: a
// per-try timeout, retries with backoff and jitter on 5xx and connection
// errors (only for calls that are safe to repeat), a circuit breaker per
// upstream and a concurrency limit. It is an http.RoundTripper, so go-kit's
// HTTP clients and the gateway's reverse proxy get the same behaviour.
package resilience

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// Policy is how calls to one upstream are protected.
type Policy struct {
	// PerTryTimeout bounds each attempt (VirtualService perTryTimeout: 2s).
	PerTryTimeout time.Duration
	// Retries is how many times a failed, repeatable call is tried again
	// (VirtualService retries.attempts: 3).
	Retries int
	// BackoffBase and BackoffMax shape the jittered exponential backoff
	// between attempts (Envoy's defaults: 25ms base, 10x cap).
	BackoffBase, BackoffMax time.Duration
	// BreakerFailures consecutive 5xx or transport errors open the breaker
	// (DestinationRule outlierDetection.consecutive5xxErrors: 5).
	BreakerFailures uint32
	// BreakerOpenFor is how long it stays open before letting one trial call
	// through (DestinationRule outlierDetection.baseEjectionTime: 30s).
	BreakerOpenFor time.Duration
	// MaxConcurrent bounds calls in flight; the next one fails fast with 503
	// (DestinationRule connectionPool: tcp.maxConnections 1 plus
	// http.http1MaxPendingRequests 1 = 2 for management). 0: no limit.
	MaxConcurrent int
}

// The mesh's values, which the in-app defaults mirror.
const (
	MeshPerTryTimeout   = 2 * time.Second
	MeshRetryAttempts   = 3
	MeshConsecutive5xx  = 5
	MeshBaseEjection    = 30 * time.Second
	MeshMaxConnections  = 1
	MeshMaxPendingCalls = 1
)

// Default is the policy for an upstream: the mesh's values everywhere, and
// management's connection pool limit on calls to management (the write-up
// put its DestinationRule on management only).
func Default(upstream contract.Service) Policy {
	p := Policy{
		PerTryTimeout:   MeshPerTryTimeout,
		Retries:         MeshRetryAttempts,
		BackoffBase:     25 * time.Millisecond,
		BackoffMax:      250 * time.Millisecond,
		BreakerFailures: MeshConsecutive5xx,
		BreakerOpenFor:  MeshBaseEjection,
	}
	if upstream == contract.Management {
		p.MaxConcurrent = MeshMaxConnections + MeshMaxPendingCalls
	}
	return p
}

// Environment keys that override the defaults for one upstream, e.g.
// RESILIENCE_PAYMENT_RETRIES=0.
func envKey(upstream contract.Service, knob string) string {
	return "RESILIENCE_" + strings.ToUpper(string(upstream)) + "_" + knob
}

// Env keys, for the README's table.
const (
	KnobPerTryTimeout   = "PER_TRY_TIMEOUT"
	KnobRetries         = "RETRIES"
	KnobBreakerFailures = "BREAKER_FAILURES"
	KnobBreakerOpenFor  = "BREAKER_OPEN_FOR"
	KnobMaxConcurrent   = "MAX_CONCURRENT"
)

// FromEnv is Default(upstream) with any RESILIENCE_<UPSTREAM>_* overrides.
func FromEnv(upstream contract.Service, getenv func(string) string) (Policy, error) {
	p := Default(upstream)
	durations := map[string]*time.Duration{KnobPerTryTimeout: &p.PerTryTimeout, KnobBreakerOpenFor: &p.BreakerOpenFor}
	for knob, dst := range durations {
		if v := getenv(envKey(upstream, knob)); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return p, fmt.Errorf("%s=%q: want a positive duration like 2s", envKey(upstream, knob), v)
			}
			*dst = d
		}
	}
	var err error
	if p.Retries, err = parseInt(getenv, envKey(upstream, KnobRetries), p.Retries); err != nil {
		return p, err
	}
	failures, err := parseInt(getenv, envKey(upstream, KnobBreakerFailures), int(p.BreakerFailures))
	if err != nil {
		return p, err
	}
	if p.MaxConcurrent, err = parseInt(getenv, envKey(upstream, KnobMaxConcurrent), p.MaxConcurrent); err != nil {
		return p, err
	}
	if p.Retries < 0 || p.Retries > 10 || failures < 1 || p.MaxConcurrent < 0 {
		return p, fmt.Errorf("resilience for %s: retries 0-10, breaker failures >= 1, max concurrent >= 0", upstream)
	}
	p.BreakerFailures = uint32(failures)
	return p, nil
}

func parseInt(getenv func(string) string, key string, def int) (int, error) {
	v := strings.TrimSpace(getenv(key))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a whole number", key, v)
	}
	return n, nil
}
