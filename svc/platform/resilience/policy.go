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
	// (DestinationRule outlierDetection.consecutive5xxErrors: 5); 0: no
	// breaker. Shed answers (503 with Retry-After) do not count.
	BreakerFailures uint32
	// BreakerOpenFor is how long it stays open before letting one trial call
	// through (DestinationRule outlierDetection.baseEjectionTime: 30s).
	BreakerOpenFor time.Duration
	// MaxConcurrent bounds calls in flight; the next one fails fast with 503
	// and Retry-After (the write-up's connectionPool, tcp.maxConnections 1
	// plus http.http1MaxPendingRequests 1 = 2, under its profile). 0: no
	// limit.
	MaxConcurrent int
}

// Default is the policy for calls to upstream under a profile and a layer
// (contract.Resilience*): the write-up's mesh values in the app by default
// (per-try timeout 2s, 3 retries, a breaker after 5 consecutive 5xx for
// 30s), plus the write-up's demo pool on calls to management under its
// profile. With the mesh doing retries, pools and ejection, the app keeps
// only a timeout that lets the mesh's attempts finish.
func Default(upstream contract.Service, profile, layer string) Policy {
	if layer == contract.ResilienceMesh {
		return Policy{PerTryTimeout: time.Duration(contract.RetryAttempts+1) * contract.PerTryTimeout}
	}
	p := Policy{
		PerTryTimeout:   contract.PerTryTimeout,
		Retries:         contract.RetryAttempts,
		BackoffBase:     25 * time.Millisecond,
		BackoffMax:      250 * time.Millisecond,
		BreakerFailures: contract.Consecutive5xxErrors,
		BreakerOpenFor:  contract.BaseEjectionTime,
	}
	if profile == contract.ResilienceWriteUp && upstream == contract.Management {
		p.MaxConcurrent = contract.WriteUpMaxConnections + contract.WriteUpHTTP1MaxPendingRequests
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

// FromEnv is Default for the RESILIENCE_PROFILE and RESILIENCE_LAYER in
// the environment, with any RESILIENCE_<UPSTREAM>_* overrides.
func FromEnv(upstream contract.Service, getenv func(string) string) (Policy, error) {
	profile, layer, err := ProfileAndLayer(getenv)
	if err != nil {
		return Policy{}, err
	}
	p := Default(upstream, profile, layer)
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
	if p.Retries < 0 || p.Retries > 10 || failures < 0 || p.MaxConcurrent < 0 {
		return p, fmt.Errorf("resilience for %s: retries 0-10, breaker failures >= 0 (0: none), max concurrent >= 0", upstream)
	}
	p.BreakerFailures = uint32(failures)
	return p, nil
}

// ProfileAndLayer reads RESILIENCE_PROFILE and RESILIENCE_LAYER (defaults:
// serving, in the app).
func ProfileAndLayer(getenv func(string) string) (profile, layer string, err error) {
	profile, layer = strings.TrimSpace(getenv(contract.EnvResilienceProfile)), strings.TrimSpace(getenv(contract.EnvResilienceLayer))
	if profile == "" {
		profile = contract.ResilienceServing
	}
	if layer == "" {
		layer = contract.ResilienceInApp
	}
	if profile != contract.ResilienceServing && profile != contract.ResilienceWriteUp {
		return "", "", fmt.Errorf("%s=%q: want %s or %s", contract.EnvResilienceProfile, profile, contract.ResilienceServing, contract.ResilienceWriteUp)
	}
	if layer != contract.ResilienceInApp && layer != contract.ResilienceMesh {
		return "", "", fmt.Errorf("%s=%q: want %s or %s", contract.EnvResilienceLayer, layer, contract.ResilienceInApp, contract.ResilienceMesh)
	}
	return profile, layer, nil
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
