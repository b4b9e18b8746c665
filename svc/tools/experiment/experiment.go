// Package experiment is the write-up's runbook as code: each experiment
// the write-up typed by hand against its cluster (break liveness, siege
// with a tiny pool, retries against a failing payment, autoscale under
// load, change the ConfigMap) plus the ones a production rollout needs
// (rolling update and kill -9 under load). Each runs against any cluster
// the stack deployed to, prints what it did and saw, judges it against the
// expectation, and undoes what it changed. `carrental experiment` and the
// end-to-end test (e2e/) call the same functions.
package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Env is the deployed system an experiment runs against.
type Env struct {
	Kube      kubernetes.Interface
	REST      *rest.Config // for exec into pods
	Namespace string
	// Gateway is the gateway's base URL as seen from here: its Service's
	// ClusterIP on a node, a port-forward or the ingress elsewhere.
	Gateway string
	Out     io.Writer
	// Kill ends a pod's container abruptly. Default: the service's admin
	// crash through exec (exit 137, no shutdown); on a node, SIGKILL
	// through the container runtime (see ContainerdKiller).
	Kill func(ctx context.Context, pod, container string) error
	// RunID keeps names unique when experiments run again on the same
	// data (default: the time).
	RunID string
	// Token mints a bearer token of the stack's issuer for subject with
	// roles; nil sends none (a stack with authMode off).
	Token func(subject string, roles ...string) (string, error)

	once     sync.Once
	tokensMu sync.Mutex
	tokens   map[string]string // Authorization header per identity
	http     *http.Client
}

// Result is an experiment's verdict and what backs it.
type Result struct {
	Name    string
	Passed  bool
	Summary string
	Lines   []string // timeline and figures, in order
}

func (r *Result) logf(e *Env, format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.Lines = append(r.Lines, line)
	fmt.Fprintf(e.Out, "  %s\n", line)
}

// fail marks the result failed with a reason; it returns the result for
// a one-line `return r.fail(...)`.
func (r Result) fail(e *Env, format string, args ...any) Result {
	r.Passed = false
	r.Summary = fmt.Sprintf(format, args...)
	fmt.Fprintf(e.Out, "FAIL %s: %s\n", r.Name, r.Summary)
	return r
}

func (r Result) pass(e *Env, format string, args ...any) Result {
	r.Passed = true
	r.Summary = fmt.Sprintf(format, args...)
	fmt.Fprintf(e.Out, "PASS %s: %s\n", r.Name, r.Summary)
	return r
}

func (e *Env) start(name, what string) Result {
	e.once.Do(func() {
		e.http = &http.Client{Timeout: 15 * time.Second}
		if e.RunID == "" {
			e.RunID = time.Now().UTC().Format("150405")
		}
		if e.Kill == nil {
			e.Kill = e.crashThroughAdmin
		}
	})
	fmt.Fprintf(e.Out, "\n== %s: %s\n", name, what)
	return Result{Name: name}
}

// response is one HTTP answer from the gateway.
type response struct {
	Status int
	Body   []byte
}

func (r response) decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("status %d, body %q: %w", r.Status, r.Body, err)
	}
	return nil
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.Status, bytes.TrimSpace(r.Body)) }

// call sends one request to the gateway as the operator.
func (e *Env) call(ctx context.Context, method, path, body string) (response, error) {
	return e.callAs(ctx, operator, method, path, body)
}

// callAs sends one request to the gateway as w.
func (e *Env) callAs(ctx context.Context, w who, method, path, body string) (response, error) {
	auth, err := e.authorization(w)
	if err != nil {
		return response{}, err
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.Gateway+path, rd)
	if err != nil {
		return response{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Body: b}, err
}

// expect sends a request as the operator and checks its status.
func (e *Env) expect(ctx context.Context, want int, method, path, body string) (response, error) {
	return e.expectAs(ctx, operator, want, method, path, body)
}

// expectAs sends a request as w and checks its status.
func (e *Env) expectAs(ctx context.Context, w who, want int, method, path, body string) (response, error) {
	resp, err := e.callAs(ctx, w, method, path, body)
	if err != nil {
		return resp, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.Status != want {
		return resp, fmt.Errorf("%s %s: got %s, want %d", method, path, resp, want)
	}
	return resp, nil
}

// eventually polls check until it returns nil or within runs out.
func eventually(ctx context.Context, within, every time.Duration, check func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", within, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// The write-up's payloads, with run-unique keys so a rerun on the same
// data starts fresh.
func carBody(carNo string) string {
	return fmt.Sprintf(`{"carNo":%q,"rentalAmt":"10000","procStatus":"WAITING","carRegDt":"20200701"}`, carNo)
}

func reservationBody(resrvNo, carNo, custNo, paymtNo string) string {
	return fmt.Sprintf(`{"carNo":%q,"custNo":%q,"paymtNo":%q,"procStatus":"RESERVED","rentalAmt":"10000","resrvNo":%q,"resrvDt":"20200801","rentalDt":"20200802","returnDt":"20200805"}`,
		carNo, custNo, paymtNo, resrvNo)
}

// Names lists the experiments Run knows, in the order `all` runs them.
var Names = []string{"story", "networkpolicy", "liveness", "configmap", "rollout", "autoscale", "breaker", "retry", "podkill", "busloss"}
