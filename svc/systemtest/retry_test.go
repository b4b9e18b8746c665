package systemtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/payment"
	paysql "github.com/carrental/carrental/svc/payment/sqlstore"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/resilience"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/platform/value"
	reservationsvc "github.com/carrental/carrental/svc/reservation"
)

// Across two contexts: reservation's payment client against payment's real
// handler. The worst case for a retry: payment charged, then its answer was lost
// (a 500 from a proxy, a dropped connection). The resilience layer retries
// the approval, and payment's idempotency turns the retries into replays.
func TestRetriedApprovalChargesOnce(t *testing.T) {
	db := sqldbtest.SQLite(t, "payment", paysql.Migrations)
	payments := payment.NewService(paysql.Store{DB: db}, time.Now, func() {})
	// Payment behind its auth middleware sees the user the call is for;
	// here, staff.
	inner := payment.MakeHandler(payment.MakeEndpoints(payments, slog.New(slog.NewTextHandler(io.Discard, nil)),
		endpointmw.NewMetrics(prometheus.NewRegistry(), "payment")))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(auth.AsStaff(r.Context())))
	})
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			handler.ServeHTTP(httptest.NewRecorder(), r)  // the charge happens...
			w.WriteHeader(http.StatusInternalServerError) // ...and the answer is lost
			return
		}
		handler.ServeHTTP(w, r)
	}))
	defer srv.Close()

	policy := resilience.Default(contract.Payment, contract.ResilienceServing, contract.ResilienceInApp)
	policy.BackoffBase, policy.BackoffMax = time.Millisecond, 2*time.Millisecond
	client := &http.Client{Transport: resilience.NewTransport(http.DefaultTransport, func(string) resilience.Policy { return policy })}
	result, err := reservationsvc.NewHTTPPayments(client, srv.URL).Approve(context.Background(),
		reservationsvc.Charge{PaymtNo: "pay1", ResrvNo: "res1", CarNo: "car01", CustNo: "cus01", Amount: 10000})
	if err != nil || result.Status != "APPROVED" {
		t.Fatalf("approve: %+v %v", result, err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d calls, want 3 (two lost answers, then the replay)", calls.Load())
	}
	list, err := payments.List(auth.AsStaff(context.Background()), "res1", value.Page{Limit: value.DefaultPageLimit})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("%d payments for one reservation (%v)", len(list.Items), err)
	}
}
