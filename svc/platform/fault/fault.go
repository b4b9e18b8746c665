// Package fault injects failures into a running service, switched at run
// time on its admin listener (never routed by the gateway, never exposed by
// a Kubernetes Service): added latency, an error rate, a hang, and a failed
// liveness file — the write-up's experiments, reproducible on demand.
package fault

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/health"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// Config is the active fault set. The zero value injects nothing.
type Config struct {
	Latency     Duration `json:"latency"`     // added to every request
	ErrorRate   float64  `json:"errorRate"`   // 0..1: share of requests answered with ErrorStatus
	ErrorStatus int      `json:"errorStatus"` // 500 or 503 (default 503)
	Hang        bool     `json:"hang"`        // requests wait until the caller gives up
}

// Duration reads "250ms" in JSON.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errs.E(errs.Invalid, `latency must be a duration string like "250ms"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 || v > time.Minute {
		return errs.E(errs.Invalid, "latency %q must be a duration between 0 and 1m", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (c Config) validate() error {
	if c.ErrorRate < 0 || c.ErrorRate > 1 {
		return errs.E(errs.Invalid, "errorRate %v must be between 0 and 1", c.ErrorRate)
	}
	if c.ErrorStatus != 0 && c.ErrorStatus != 500 && c.ErrorStatus != 503 {
		return errs.E(errs.Invalid, "errorStatus %d must be 500 or 503", c.ErrorStatus)
	}
	return nil
}

// Injector holds the active faults of one service and counts what it did.
type Injector struct {
	mu       sync.RWMutex
	cfg      Config
	seen     atomic.Int64 // requests through the middleware since the last Set
	injected atomic.Int64 // of those, answered with an injected error
}

// Counts is what the injector did since its faults were last set.
type Counts struct {
	Requests int64 `json:"requests"`
	Injected int64 `json:"injectedErrors"`
}

// Set replaces the active faults.
func (in *Injector) Set(c Config) error {
	if err := c.validate(); err != nil {
		return err
	}
	if c.ErrorStatus == 0 {
		c.ErrorStatus = http.StatusServiceUnavailable
	}
	in.mu.Lock()
	in.cfg = c
	in.seen.Store(0)
	in.injected.Store(0)
	in.mu.Unlock()
	return nil
}

// Counts returns the requests seen and errors injected since the last Set.
func (in *Injector) Counts() Counts {
	return Counts{Requests: in.seen.Load(), Injected: in.injected.Load()}
}

// Active returns the active faults.
func (in *Injector) Active() Config {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.cfg
}

// Middleware applies the active faults to next.
func (in *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := in.Active()
		in.seen.Add(1)
		if c.Hang {
			<-r.Context().Done()
			return
		}
		if c.Latency > 0 {
			t := time.NewTimer(time.Duration(c.Latency))
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if c.ErrorRate > 0 && rand.Float64() < c.ErrorRate {
			in.injected.Add(1)
			httpx.WriteJSON(w, c.ErrorStatus, httpx.NewErrorBody(r.Context(), "injected_fault", fmt.Sprintf("fault injected: %d", c.ErrorStatus)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// AdminHandler serves the admin API:
//
//	GET    /fault            the active faults, and what they did since set: {"active":{...},"counts":{...}}
//	PUT    /fault            set them: {"latency":"500ms","errorRate":0.3,"errorStatus":500,"hang":false}
//	DELETE /fault            clear them
//	POST   /liveness/fail    remove the liveness file (the probe starts failing)
//	POST   /liveness/restore create it again
//	POST   /crash            answer, then exit at once with status 137 (see Crash)
func AdminHandler(in *Injector, healthyFile string, crash func()) http.Handler {
	mux := httpx.NewRouter()
	mux.HandleFunc("GET /fault", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"active": in.Active(), "counts": in.Counts()})
	})
	mux.HandleFunc("POST /crash", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"crash": "exiting with status 137, no shutdown"})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go func() { time.Sleep(50 * time.Millisecond); crash() }()
	})
	mux.HandleFunc("PUT /fault", func(w http.ResponseWriter, r *http.Request) {
		var c Config
		if err := httpx.DecodeJSON(r, &c); err != nil {
			httpx.EncodeError(r.Context(), err, w)
			return
		}
		if err := in.Set(c); err != nil {
			httpx.EncodeError(r.Context(), err, w)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, in.Active())
	})
	mux.HandleFunc("DELETE /fault", func(w http.ResponseWriter, r *http.Request) {
		_ = in.Set(Config{})
		httpx.WriteJSON(w, http.StatusOK, in.Active())
	})
	mux.HandleFunc("POST /liveness/fail", func(w http.ResponseWriter, r *http.Request) {
		if err := health.MarkDead(healthyFile); err != nil {
			httpx.EncodeError(r.Context(), err, w)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"liveness": "failing", "file": healthyFile})
	})
	mux.HandleFunc("POST /liveness/restore", func(w http.ResponseWriter, r *http.Request) {
		if err := health.MarkLive(healthyFile); err != nil {
			httpx.EncodeError(r.Context(), err, w)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"liveness": "ok", "file": healthyFile})
	})
	return mux
}

// Crash ends the process the way kill -9 ends its work: no drain, no
// outbox flush, no connection closed politely, no deferred function run.
// (A container's main process cannot be sent SIGKILL from inside its own
// PID namespace, so `kubectl exec` cannot kill -9 it; this can.)
func Crash() { os.Exit(137) }
