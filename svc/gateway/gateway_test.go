package gateway_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/gateway"
	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/httpx"
)

func TestGatewayRoutesOnlyPublicPaths(t *testing.T) {
	seen := map[contract.Service][]string{}
	upstreams := map[contract.Service]string{}
	for _, s := range contract.Services() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			seen[s] = append(seen[s], r.Method+" "+r.URL.RequestURI()+" "+string(b))
			w.WriteHeader(http.StatusTeapot)
		}))
		defer srv.Close()
		upstreams[s] = srv.URL
	}
	// payment is down.
	upstreams[contract.Payment] = "http://127.0.0.1:1"
	h, err := gateway.New(func(s contract.Service) string { return upstreams[s] }, http.DefaultTransport,
		slog.New(slog.NewTextHandler(io.Discard, nil)), endpointmw.NewMetrics(prometheus.NewRegistry(), "gateway"), contract.DefaultGatewayCacheTTL, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, body string
		status             int
		to                 contract.Service
	}{
		{"POST", "/carManagements", `{"carNo":"test"}`, 418, contract.Management},
		{"GET", "/carManagements/car01?x=1", "", 418, contract.Management},
		{"POST", "/carReservations/r1/cancel", "", 418, contract.Reservation},
		{"GET", "/carRentals", "", 418, contract.Rental},
		{"GET", "/carInformations", "", 418, contract.View},
		{"GET", "/carManagementsX", "", 404, ""},
		{"POST", "/internal/carReservations/r1/rent", "", 404, ""},
		{"GET", "/fault", "", 404, ""},
		{"GET", "/payments", "", 503, ""},
	}
	for _, tc := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		if rec.Code != tc.status {
			t.Fatalf("%s %s: %d, want %d (%s)", tc.method, tc.path, rec.Code, tc.status, rec.Body)
		}
		if tc.status >= 400 && tc.status != 418 {
			var body httpx.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Message == "" {
				t.Fatalf("%s %s: error body %q", tc.method, tc.path, rec.Body)
			}
			if tc.status == 503 && body.Code != errs.Unavailable {
				t.Fatalf("upstream down: %+v", body)
			}
		}
		if tc.to != "" {
			got := seen[tc.to]
			if len(got) == 0 || got[len(got)-1] != tc.method+" "+tc.path+" "+tc.body {
				t.Fatalf("%s %s reached %s as %q", tc.method, tc.path, tc.to, got)
			}
		}
	}
	if len(seen[contract.Reservation]) != 1 {
		t.Fatalf("an internal path reached reservation: %q", seen[contract.Reservation])
	}
}

// The gateway's outcomes are the endpoints' codes, so the availability
// objective's 5xx outcomes catch its failures and none of a client's.
func TestOutcomeSpeaksTheEndpointsVocabulary(t *testing.T) {
	server := map[string]bool{}
	for _, o := range contract.ServerErrorOutcomes() {
		server[o] = true
	}
	cases := []struct {
		status int
		want   string
	}{
		{200, contract.OutcomeOK}, {201, contract.OutcomeOK}, {304, contract.OutcomeOK},
		{400, "invalid"}, {404, "not_found"}, {409, "conflict"}, {418, "418"}, {429, "429"},
		{httpx.StatusClientClosedRequest, contract.OutcomeCanceled},
		{500, "internal"}, {501, "internal"}, {502, "unavailable"}, {503, "unavailable"}, {504, "timeout"},
	}
	for _, c := range cases {
		got := gateway.Outcome(c.status)
		if got != c.want {
			t.Errorf("Outcome(%d) = %q, want %q", c.status, got, c.want)
		}
		if server[got] != (c.status >= 500) {
			t.Errorf("Outcome(%d) = %q: counted as a server error: %v", c.status, got, server[got])
		}
	}
}
