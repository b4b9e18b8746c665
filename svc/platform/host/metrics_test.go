package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/resilience"
)

// The breaker gauge follows the breaker of each upstream: closed before
// any call, open once BreakerFailures calls in a row failed.
func TestBreakerGaugeFollowsTheBreaker(t *testing.T) {
	management := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer management.Close()
	payment := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer payment.Close()
	cfg, err := LoadConfig(contract.Reservation, env(map[string]string{
		contract.EnvURL(contract.Management): management.URL, contract.EnvURL(contract.Payment): payment.URL,
		"RESILIENCE_MANAGEMENT_RETRIES": "0", "RESILIENCE_MANAGEMENT_BREAKER_FAILURES": "2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	tr := resilience.NewTransport(http.DefaultTransport, cfg.Policy)
	reg := prometheus.NewRegistry()
	reg.MustRegister(breakerGauges(contract.Reservation, cfg, tr)...)
	states := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != contract.Metric(contract.Reservation, contract.MetricBreakerState) {
				t.Fatalf("unexpected metric %s", mf.GetName())
			}
			for _, m := range mf.GetMetric() {
				out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
		return out
	}
	if got := states(); len(got) != 2 || got["management"] != contract.BreakerClosed || got["payment"] != contract.BreakerClosed {
		t.Fatalf("before any call: %v", got)
	}
	client := &http.Client{Transport: tr}
	for range 2 {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, management.URL, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	if got := states(); got["management"] != contract.BreakerOpen || got["payment"] != contract.BreakerClosed {
		t.Fatalf("after 2 failures: %v, want management open (%d), payment closed", got, contract.BreakerOpen)
	}
}
