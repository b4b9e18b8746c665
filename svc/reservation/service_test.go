package reservation_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/reservation"
	"github.com/carrental/carrental/svc/reservation/sqlstore"
)

type fakeCars map[string]string // carNo -> status

func (f fakeCars) Car(_ context.Context, carNo string) (reservation.Car, error) {
	st, ok := f[carNo]
	if !ok {
		return reservation.Car{}, errs.E(errs.NotFound, "car %s not found", carNo)
	}
	return reservation.Car{CarNo: carNo, ProcStatus: st}, nil
}

// fakePayments behaves like the payment service: idempotent per resrvNo.
type fakePayments struct {
	mu                    sync.Mutex
	approveErr, cancelErr error
	charged               map[string]string // resrvNo -> status
	approvals             int
}

func (f *fakePayments) Approve(_ context.Context, c reservation.Charge) (reservation.PaymentResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.approveErr != nil {
		return reservation.PaymentResult{}, f.approveErr
	}
	if st, ok := f.charged[c.ResrvNo]; ok {
		return reservation.PaymentResult{PaymtNo: c.PaymtNo, Status: st}, nil
	}
	f.approvals++
	f.charged[c.ResrvNo] = "APPROVED"
	return reservation.PaymentResult{PaymtNo: c.PaymtNo, Status: "APPROVED"}, nil
}

func (f *fakePayments) Cancel(_ context.Context, paymtNo string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancelErr != nil {
		return f.cancelErr
	}
	for k := range f.charged {
		f.charged[k] = "CANCELED"
	}
	return nil
}

func request(resrvNo, carNo string) reservation.ReserveRequest {
	return reservation.ReserveRequest{CarNo: carNo, CustNo: "cus01", PaymtNo: "pay-" + resrvNo, ProcStatus: "RESERVED",
		RentalAmt: 10000, ResrvNo: resrvNo, ResrvDt: "20200801", RentalDt: "20200802", ReturnDt: "20200805"}
}

func newService(db *sqldb.DB, cars fakeCars, pay *fakePayments) reservation.Service {
	return reservation.NewService(sqlstore.Store{DB: db}, cars, pay, time.Now, func() {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestReserveFlow(t *testing.T) {
	sqldbtest.Each(t, "reservation", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := auth.AsStaff(context.Background())
		pay := &fakePayments{charged: map[string]string{}}
		svc := newService(db, fakeCars{"car01": "WAITING", "car02": "RESERVED"}, pay)

		res, created, err := svc.Reserve(ctx, request("r1", "car01"))
		if err != nil || !created || res.ProcStatus != reservation.Reserved {
			t.Fatalf("reserve: %+v %v %v", res, created, err)
		}
		if _, created, err := svc.Reserve(ctx, request("r1", "car01")); err != nil || created {
			t.Fatalf("replay: created=%v err=%v", created, err)
		}
		other := request("r1", "car01")
		other.CustNo = "someone-else"
		if _, _, err := svc.Reserve(ctx, other); !errs.Is(err, errs.Conflict) {
			t.Fatalf("same resrvNo, other values: %v", err)
		}
		if _, _, err := svc.Reserve(ctx, request("r2", "car01")); !errs.Is(err, errs.Conflict) {
			t.Fatalf("second reservation of car01: %v", err)
		}
		if _, _, err := svc.Reserve(ctx, request("r3", "car02")); !errs.Is(err, errs.Conflict) {
			t.Fatalf("car not WAITING: %v", err)
		}
		if _, _, err := svc.Reserve(ctx, request("r4", "nocar")); !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown car: %v", err)
		}
		if pay.approvals != 1 {
			t.Fatalf("%d approvals, want 1", pay.approvals)
		}

		// Cancel refunds and frees the car; cancelling again is a replay.
		if res, err := svc.Cancel(ctx, "r1"); err != nil || res.ProcStatus != reservation.Canceled {
			t.Fatalf("cancel: %+v %v", res, err)
		}
		if _, err := svc.Cancel(ctx, "r1"); err != nil {
			t.Fatalf("cancel replay: %v", err)
		}
		if pay.charged["r1"] != "CANCELED" {
			t.Fatal("cancel did not refund")
		}
		if _, created, err := svc.Reserve(ctx, request("r5", "car01")); err != nil || !created {
			t.Fatalf("car01 after the cancel: %v", err)
		}

		// Rental's compare-and-set moves: rental's own identity only.
		if _, err := svc.MarkRented(ctx, "r5"); !errs.Is(err, errs.Forbidden) {
			t.Fatalf("staff moved a reservation along: %v", err)
		}
		staff := ctx
		ctx = auth.WithIdentity(staff, &auth.Identity{Kind: auth.ServiceKind, Service: contract.Rental, Namespace: contract.LocalNamespace})
		if _, err := svc.MarkReturned(ctx, "r5"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("return before rent: %v", err)
		}
		for i := 0; i < 2; i++ {
			if res, err := svc.MarkRented(ctx, "r5"); err != nil || res.ProcStatus != reservation.Rented {
				t.Fatalf("rent #%d: %+v %v", i, res, err)
			}
		}
		if _, err := svc.Cancel(staff, "r5"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("cancel a rented reservation: %v", err)
		}
		if res, err := svc.MarkReturned(ctx, "r5"); err != nil || res.ProcStatus != reservation.Returned {
			t.Fatalf("return: %+v %v", res, err)
		}
	})
}

// carsAfter answers the car's status only after run: the window in which a
// concurrent request for the same resrvNo books the car.
type carsAfter struct {
	run    func()
	status string
}

func (c carsAfter) Car(_ context.Context, carNo string) (reservation.Car, error) {
	c.run()
	return reservation.Car{CarNo: carNo, ProcStatus: c.status}, nil
}

// The write-up's siege posts one reservation five at a time: a request that
// found no reservation may ask management about the car only after a
// concurrent one booked it and management saw the event. That request is a
// replay (the e2e run once answered it 409 "car is RESERVED").
func TestReplayThatFindsTheCarBookedByItsTwin(t *testing.T) {
	sqldbtest.Each(t, "reservation", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := auth.AsStaff(context.Background())
		pay := &fakePayments{charged: map[string]string{}}
		twin := newService(db, fakeCars{"car01": "WAITING"}, pay)
		var twinErr error
		late := reservation.NewService(sqlstore.Store{DB: db}, carsAfter{status: "RESERVED", run: func() {
			_, _, twinErr = twin.Reserve(ctx, request("r1", "car01"))
		}}, pay, time.Now, func() {}, slog.New(slog.NewTextHandler(io.Discard, nil)))

		res, created, err := late.Reserve(ctx, request("r1", "car01"))
		if twinErr != nil {
			t.Fatalf("the twin: %v", twinErr)
		}
		if err != nil || created || res.ProcStatus != reservation.Reserved {
			t.Fatalf("the late twin: %+v created=%v %v, want the booked reservation as a replay", res, created, err)
		}
		// A different reservation of that car is still a clash.
		other := reservation.NewService(sqlstore.Store{DB: db}, carsAfter{status: "RESERVED", run: func() {}}, pay,
			time.Now, func() {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if _, _, err := other.Reserve(ctx, request("r2", "car01")); !errs.Is(err, errs.Conflict) {
			t.Fatalf("another reservation of the booked car: %v", err)
		}
		if pay.approvals != 1 {
			t.Fatalf("%d approvals, want 1", pay.approvals)
		}
	})
}

// carsDown is management unreachable.
type carsDown struct{}

func (carsDown) Car(context.Context, string) (reservation.Car, error) {
	return reservation.Car{}, errs.E(errs.Unavailable, "management is unavailable")
}

// A replay is answered from the stored reservation whatever management says
// of its car now: booked by this very reservation, removed since, or
// management unreachable. A new reservation still needs the car.
func TestReplayAnswersFromTheStoredReservation(t *testing.T) {
	sqldbtest.Each(t, "reservation", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := auth.AsStaff(context.Background())
		pay := &fakePayments{charged: map[string]string{}}
		first, _, err := newService(db, fakeCars{"car01": "WAITING"}, pay).Reserve(ctx, request("r1", "car01"))
		if err != nil {
			t.Fatal(err)
		}
		for name, cars := range map[string]reservation.Cars{
			"car booked by it": fakeCars{"car01": "RESERVED"},
			"car removed":      fakeCars{},
			"management down":  carsDown{},
		} {
			svc := reservation.NewService(sqlstore.Store{DB: db}, cars, pay, time.Now, func() {}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			res, created, err := svc.Reserve(ctx, request("r1", "car01"))
			if err != nil || created || res.ResrvNo != first.ResrvNo || res.ProcStatus != reservation.Reserved {
				t.Errorf("%s: replay answered %+v created=%v %v, want the stored reservation", name, res, created, err)
			}
			if _, _, err := svc.Reserve(ctx, request("r2", "car01")); err == nil {
				t.Errorf("%s: a new reservation of car01 was booked", name)
			}
		}
		if pay.approvals != 1 {
			t.Fatalf("%d approvals, want 1", pay.approvals)
		}
	})
}

func TestPaymentFailures(t *testing.T) {
	ctx := auth.AsStaff(context.Background())
	cases := []struct {
		name       string
		approveErr error
		cancelErr  error
		code       errs.Code
		left       reservation.Status // "" when the claim is released
	}{
		{"payment refuses", errs.E(errs.Conflict, "declined"), nil, errs.Conflict, ""},
		{"payment down, refund works", errs.E(errs.Unavailable, "down"), nil, errs.Unavailable, ""},
		{"payment down, refund fails too", errs.E(errs.Timeout, "slow"), errs.E(errs.Unavailable, "down"), errs.Unavailable, reservation.Pending},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := sqldbtest.SQLite(t, "reservation", sqlstore.Migrations)
			pay := &fakePayments{charged: map[string]string{}, approveErr: tc.approveErr, cancelErr: tc.cancelErr}
			svc := newService(db, fakeCars{"car01": "WAITING"}, pay)
			_, _, err := svc.Reserve(ctx, request("r1", "car01"))
			if errs.CodeOf(err) != tc.code {
				t.Fatalf("code %s (%v), want %s", errs.CodeOf(err), err, tc.code)
			}
			res, getErr := svc.Get(ctx, "r1")
			switch {
			case tc.left == "" && !errors.Is(getErr, reservation.ErrNotFound):
				t.Fatalf("claim kept: %+v %v", res, getErr)
			case tc.left != "" && res.ProcStatus != tc.left:
				t.Fatalf("reservation %+v, want %s", res, tc.left)
			}
			// Payment recovers; the client retries with the same resrvNo
			// and is charged exactly once.
			pay.approveErr, pay.cancelErr = nil, nil
			pay.charged = map[string]string{}
			res, _, err = svc.Reserve(ctx, request("r1", "car01"))
			if err != nil || res.ProcStatus != reservation.Reserved || pay.approvals != 1 {
				t.Fatalf("retry: %+v %v, %d approvals", res, err, pay.approvals)
			}
		})
	}
}

func TestConcurrentReservationsOfOneCar(t *testing.T) {
	sqldbtest.Each(t, "reservation", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		pay := &fakePayments{charged: map[string]string{}}
		svc := newService(db, fakeCars{"car01": "WAITING"}, pay)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		for i := 0; i < 8; i++ {
			wg.Go(func() {
				_, created, err := svc.Reserve(auth.AsStaff(context.Background()), request("race"+string(rune('a'+i)), "car01"))
				if err == nil && created {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errs.Is(err, errs.Conflict) {
					t.Errorf("loser got %v, want a conflict", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || pay.approvals != 1 {
			t.Fatalf("%d reservations and %d charges for one car, want 1 and 1", wins, pay.approvals)
		}
	})
}
