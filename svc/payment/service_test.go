package payment_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/payment"
	"github.com/carrental/carrental/svc/payment/sqlstore"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/platform/value"
)

func charge(resrvNo string) payment.ApproveRequest {
	return payment.ApproveRequest{PaymtNo: "pay-" + resrvNo, ResrvNo: resrvNo, CarNo: "car01", CustNo: "cus01", Amount: 10000}
}

func TestApproveNeverChargesTwice(t *testing.T) {
	sqldbtest.Each(t, "payment", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := auth.AsStaff(context.Background())
		svc := payment.NewService(sqlstore.Store{DB: db}, time.Now, func() {})
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
		)
		for i := 0; i < 10; i++ { // a retrying proxy and an impatient client at once
			wg.Go(func() {
				p, isNew, err := svc.Approve(ctx, charge("r1"))
				if err != nil || p.Status != payment.Approved {
					t.Errorf("approve: %+v %v", p, err)
					return
				}
				if isNew {
					mu.Lock()
					created++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		list, err := svc.List(ctx, "r1", value.Page{Limit: value.DefaultPageLimit})
		if created != 1 || err != nil || len(list.Items) != 1 {
			t.Fatalf("created %d times, %d stored (%v)", created, len(list.Items), err)
		}
		if n, _ := outbox.Pending(ctx, db); n != 1 {
			t.Fatalf("%d PaymentApproved events, want 1", n)
		}
		other := charge("r1")
		other.Amount = 20000
		if _, _, err := svc.Approve(ctx, other); !errs.Is(err, errs.Conflict) {
			t.Fatalf("same reservation, other amount: %v", err)
		}
		keyed := charge("r2")
		keyed.Key = "client-key"
		if _, _, err := svc.Approve(ctx, keyed); err != nil {
			t.Fatal(err)
		}
		reuse := charge("r3")
		reuse.Key = "client-key"
		if _, _, err := svc.Approve(ctx, reuse); !errs.Is(err, errs.Conflict) {
			t.Fatalf("idempotency key reused for another charge: %v", err)
		}

		for i := 0; i < 2; i++ {
			p, err := svc.Cancel(ctx, "pay-r1")
			if err != nil || p.Status != payment.Canceled {
				t.Fatalf("cancel #%d: %+v %v", i, p, err)
			}
		}
		if n, _ := outbox.Pending(ctx, db); n != 3 {
			t.Fatalf("%d events, want 3 (approved r1, approved r2, canceled r1 once)", n)
		}
		if _, err := svc.Cancel(ctx, "nope"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("cancel unknown: %v", err)
		}
	})
}

func FuzzDecodeApprove(f *testing.F) {
	f.Add([]byte(`{"paymtNo":"pay1","resrvNo":"res1","carNo":"car01","custNo":"cus01","amount":"10000"}`), "")
	f.Add([]byte(`{"paymtNo":"pay1","amount":1e3}`), "key")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		r := httptest.NewRequest("POST", "/payments", bytes.NewReader(body))
		r.Header.Set("Idempotency-Key", key)
		req, err := payment.DecodeApprove(r)
		if err == nil {
			if req.Validate() != nil || req.Key == "" {
				t.Fatalf("accepted %+v", req)
			}
			return
		}
		if c := errs.CodeOf(err); c != errs.Invalid && c != errs.TooLarge {
			t.Fatalf("code %s: %v", c, err)
		}
	})
}
