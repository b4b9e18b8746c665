package experiment

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/tools/loadgen"
)

func TestRequestsCarryTheirPersonsToken(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Authorization")]++
		mu.Unlock()
	}))
	defer gw.Close()
	minted := map[string]int{}
	e := &Env{Gateway: gw.URL, Out: io.Discard, Token: func(subject string, roles ...string) (string, error) {
		minted[subject]++
		return "tok-" + subject + "-" + strings.Join(roles, ","), nil
	}}
	e.start("test", "")
	ctx := context.Background()
	for range 2 {
		if _, err := e.call(ctx, "GET", "/carManagements", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := e.callAs(ctx, asCustomer("cus01"), "GET", "/carReservations", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.siege(ctx, loadgen.Options{Concurrency: 1, Reps: 3, Method: "GET", URL: "/carManagements"}); err != nil {
		t.Fatal(err)
	}
	load := e.startLoad(ctx, 1, 50, "GET", "/carManagements", "")
	time.Sleep(100 * time.Millisecond)
	load.stop()
	staff, cust := "Bearer tok-staff-experiments-staff", "Bearer tok-cus01-customer"
	if seen[cust] != 2 {
		t.Errorf("customer's requests with their token: %d, want 2 (seen %v)", seen[cust], seen)
	}
	if seen[staff] < 2+3+1 {
		t.Errorf("operator's requests with the staff token: %d, want at least 6 (seen %v)", seen[staff], seen)
	}
	if seen[""] != 0 {
		t.Errorf("%d requests went without a token", seen[""])
	}
	if minted["staff-experiments"] != 1 || minted["cus01"] != 1 {
		t.Errorf("minted %v, want one token per person", minted)
	}
	// No Token: no header (a stack with authMode off).
	seen = map[string]int{}
	bare := &Env{Gateway: gw.URL, Out: io.Discard}
	bare.start("test", "")
	if _, err := bare.call(ctx, "GET", "/", ""); err != nil {
		t.Fatal(err)
	}
	if seen[""] != 1 {
		t.Errorf("without Token: seen %v, want one request without Authorization", seen)
	}
}
