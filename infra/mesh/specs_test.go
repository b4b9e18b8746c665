package mesh_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/carrental/carrental/infra/mesh"
	"github.com/carrental/carrental/svc/contract"
)

// field walks a dotted path through a rendered spec.
func field(t *testing.T, spec map[string]any, path string) any {
	t.Helper()
	var v any = spec
	for _, k := range strings.Split(path, ".") {
		switch n := v.(type) {
		case map[string]any:
			v = n[k]
		case []any:
			var i int
			fmt.Sscan(k, &i)
			v = n[i]
		default:
			t.Fatalf("%s: no %s", path, k)
		}
	}
	return v
}

// The write-up's numbers, as literals: what the API server receives.
func TestWriteUpCircuitBreakerAndRetries(t *testing.T) {
	dr, err := mesh.Spec(mesh.CircuitBreaker(contract.Management, contract.ResilienceWriteUp))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := mesh.Spec(mesh.Retries(contract.Reservation))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec map[string]any
		path string
		want any
	}{
		{dr, "host", "management"},
		{dr, "trafficPolicy.connectionPool.tcp.maxConnections", 1.0},
		{dr, "trafficPolicy.connectionPool.http.http1MaxPendingRequests", 1.0},
		{dr, "trafficPolicy.connectionPool.http.maxRequestsPerConnection", 1.0},
		{dr, "trafficPolicy.outlierDetection.consecutive5xxErrors", 5.0},
		{dr, "trafficPolicy.outlierDetection.interval", "10s"},
		{dr, "trafficPolicy.outlierDetection.baseEjectionTime", "30s"},
		{dr, "trafficPolicy.outlierDetection.maxEjectionPercent", 100.0},
		{vs, "hosts.0", "reservation"},
		{vs, "http.0.retries.attempts", 3.0},
		{vs, "http.0.retries.perTryTimeout", "2s"},
	} {
		if got := field(t, tc.spec, tc.path); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.path, got, tc.want)
		}
	}
	// The write-up's deprecated field counted only 502/503/504.
	if field(t, dr, "trafficPolicy.outlierDetection.consecutiveErrors") != nil {
		t.Error("consecutiveErrors is set")
	}
	// Without 500 the retries never fire on a 500: the write-up's failure.
	// A 503 is a shed answer: retrying it adds to the overload.
	on := strings.Split(field(t, vs, "http.0.retries.retryOn").(string), ",")
	has := map[string]bool{}
	for _, c := range on {
		has[c] = true
	}
	if !has["500"] && !has["5xx"] {
		t.Errorf("retryOn %v does not retry a 500", on)
	}
	if has["5xx"] || has["503"] {
		t.Errorf("retryOn %v retries shed answers (503)", on)
	}
	// The demo pool only under the write-up's profile; ejection always.
	serving, err := mesh.Spec(mesh.CircuitBreaker(contract.Management, contract.ResilienceServing))
	if err != nil {
		t.Fatal(err)
	}
	if field(t, serving, "trafficPolicy.connectionPool") != nil {
		t.Error("the serving profile has the write-up's 1-connection pool")
	}
	if field(t, serving, "trafficPolicy.outlierDetection.consecutive5xxErrors") != 5.0 {
		t.Error("no outlier detection under the serving profile")
	}
}

func TestStrictMTLS(t *testing.T) {
	pa, err := mesh.Spec(mesh.StrictMTLS())
	if err != nil {
		t.Fatal(err)
	}
	if got := field(t, pa, "mtls.mode"); got != "STRICT" {
		t.Errorf("mtls mode %v", got)
	}
}
