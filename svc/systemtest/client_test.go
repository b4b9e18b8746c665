package systemtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/wiring/local"
)

// api is a tiny JSON client for the tests; every exchange is held to the
// public OpenAPI document (contract_test.go).
type api struct {
	t     testing.TB
	base  string
	http  *http.Client
	token string // sent as Authorization: Bearer; "" for anonymous
}

// as is the same client with another identity's token.
func (a *api) as(token string) *api {
	c := *a
	c.token = token
	return &c
}

// mint is a token of the system's local issuer.
func mint(t testing.TB, sys *local.System, role, sub string) string {
	t.Helper()
	tok, err := sys.Token(role, sub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// staffAPI is the gateway's client as staff, who may do everything.
func staffAPI(t testing.TB, sys *local.System) *api {
	return newAPI(t, sys.Gateway()).as(mint(t, sys, contract.RoleStaff, "staff01"))
}

func newAPI(t testing.TB, base string) *api {
	return &api{t: t, base: base, http: &http.Client{Timeout: 15 * time.Second, Transport: newContractChecker(t, http.DefaultTransport)}}
}

type reply struct {
	Status int
	Body   []byte
}

func (r reply) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d %q is not JSON: %v", r.Status, r.Body, err)
	}
}

func (r reply) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

func (a *api) do(method, path, body string) (reply, error) {
	req, err := http.NewRequest(method, a.base+path, bytes.NewBufferString(body))
	if err != nil {
		return reply{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Body: b}, err
}

// call fails the test on a transport error.
func (a *api) call(method, path, body string) reply {
	a.t.Helper()
	r, err := a.do(method, path, body)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// expect fails the test unless the status matches; error bodies must be
// JSON with a code and a message.
func (a *api) expect(status int, method, path, body string) reply {
	a.t.Helper()
	r := a.call(method, path, body)
	if r.Status != status {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.Status, status, r.Body)
	}
	if status >= 400 {
		m := r.Map(a.t)
		if m["code"] == nil || m["message"] == "" || m["message"] == nil {
			a.t.Fatalf("%s %s: error body %s lacks code/message", method, path, r.Body)
		}
	}
	return r
}

// eventually polls check until it returns nil or the deadline passes.
func eventually(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

func field(m map[string]any, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
