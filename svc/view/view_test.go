package view_test

import (
	"context"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/platform/value"
	"github.com/carrental/carrental/svc/view"
	"github.com/carrental/carrental/svc/view/sqlstore"
)

func evt(t *testing.T, typ event.Type, payload any) event.Event {
	t.Helper()
	e, err := event.New("test", typ, "car01", payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestReadModelFromEventsInAnyOrder(t *testing.T) {
	sqldbtest.Each(t, "view", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		store := sqlstore.Store{DB: db}
		handle := view.Handle(store)
		res := event.Reservation{ResrvNo: "r1", CarNo: "car01", CustNo: "cus01", PaymtNo: "pay1", RentalAmt: 10000, ResrvDt: "20200801", RentalDt: "20200802", ReturnDt: "20200805"}
		rental := event.Rental{RentalNo: "rental-r1", ResrvNo: "r1", CarNo: "car01", CustNo: "cus01", Country: "korea", Region: "seoul"}
		events := []event.Event{
			// The payment and the rental overtake the reservation.
			evt(t, event.PaymentApproved, event.Payment{PaymtNo: "pay1", ResrvNo: "r1", CarNo: "car01", Status: "APPROVED"}),
			evt(t, event.CarRented, rental),
			evt(t, event.CarReserved, res),
			evt(t, event.CarRegistered, event.Car{CarNo: "car01", RentalAmt: 10000, ProcStatus: "WAITING", CarRegDt: "20200701"}),
		}
		for _, e := range append(events, events...) { // and every event twice
			if err := handle(ctx, e); err != nil {
				t.Fatalf("%s: %v", e.Type, err)
			}
		}
		row, err := store.Get(ctx, "car01")
		if err != nil {
			t.Fatal(err)
		}
		want := view.CarInformation{CarNo: "car01", RentalAmt: 10000, CarRegDt: "20200701", CarStatus: "RENTED", ResrvNo: "r1", CustNo: "cus01",
			ResrvStatus: "RENTED", ResrvDt: "20200801", RentalDt: "20200802", ReturnDt: "20200805", PaymtNo: "pay1", PaymentStatus: "APPROVED",
			RentalNo: "rental-r1", RentalStatus: "RENTED", Country: "korea", Region: "seoul"}
		row.UpdatedAt = ""
		if row != want {
			t.Fatalf("row\n%+v\nwant\n%+v", row, want)
		}

		// A next reservation that overtakes the return waits for it.
		next := evt(t, event.CarReserved, event.Reservation{ResrvNo: "r2", CarNo: "car01", CustNo: "cus02", PaymtNo: "pay2"})
		if err := handle(ctx, next); err == nil {
			t.Fatal("r2 applied while r1 is still rented")
		}
		returned := rental
		returned.ReturnedAt = "x"
		if err := handle(ctx, evt(t, event.CarReturned, returned)); err != nil {
			t.Fatal(err)
		}
		if err := handle(ctx, next); err != nil {
			t.Fatal(err)
		}
		row, _ = store.Get(ctx, "car01")
		if row.CarStatus != "RESERVED" || row.ResrvNo != "r2" || row.PaymentStatus != "" || row.RentalStatus != "" {
			t.Fatalf("after the next reservation: %+v", row)
		}

		if err := handle(ctx, evt(t, event.CarDeleted, event.CarRef{CarNo: "car01"})); err != nil {
			t.Fatal(err)
		}
		if rows, _ := store.List(ctx, value.Page{Limit: value.DefaultPageLimit}); len(rows.Items) != 0 {
			t.Fatalf("deleted car still listed: %+v", rows)
		}
	})
}
