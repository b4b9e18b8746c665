package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/carrental/carrental/svc/platform/errs"
)

func TestRouterAnswersUnknownRoutesInJSON(t *testing.T) {
	rt := NewRouter()
	rt.HandleFunc("GET /cars", func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, 200, []string{}) })
	cases := []struct {
		method, path string
		status       int
		code         errs.Code
	}{
		{"GET", "/cars", 200, ""},
		{"GET", "/nothing", 404, errs.NotFound},
		{"DELETE", "/cars", 405, errs.NotAllowed},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status {
			t.Fatalf("%s %s: status %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
		if tc.code == "" {
			continue
		}
		var body ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Code != tc.code || body.Message == "" {
			t.Fatalf("%s %s: body %q (%v)", tc.method, tc.path, rec.Body.String(), err)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("content type %q", ct)
		}
	}
}

func TestEncodeErrorMapsEveryCode(t *testing.T) {
	cases := map[errs.Code]int{
		errs.Invalid: 400, errs.NotFound: 404, errs.Conflict: 409, errs.TooLarge: 413,
		errs.Unsupported: 415, errs.NotAllowed: 405, errs.Unavailable: 503, errs.Timeout: 504, errs.Internal: 500,
		errs.HeadersTooLarge: 431,
	}
	// A rate-limited answer from an upstream is, for its caller, the
	// upstream being unavailable: only the 429 direction round-trips.
	if StatusOf(errs.RateLimited) != 429 {
		t.Errorf("rate_limited: status %d, want 429", StatusOf(errs.RateLimited))
	}
	for code, status := range cases {
		rec := httptest.NewRecorder()
		EncodeError(t.Context(), errs.E(code, "boom"), rec)
		if rec.Code != status {
			t.Errorf("%s: status %d, want %d", code, rec.Code, status)
		}
		if code != errs.Internal && CodeOfStatus(status) != code {
			t.Errorf("CodeOfStatus(%d) = %s, want %s", status, CodeOfStatus(status), code)
		}
	}
}

func TestEncodeErrorHidesInternalDetails(t *testing.T) {
	rec := httptest.NewRecorder()
	EncodeError(t.Context(), errPlain("password=secret"), rec)
	var body ErrorBody
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != 500 || body.Message != "internal error" {
		t.Fatalf("status %d body %+v", rec.Code, body)
	}
}

type errPlain string

func (e errPlain) Error() string { return string(e) }
