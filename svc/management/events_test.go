package management_test

import (
	"context"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/management/sqlstore"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
)

func lifecycle(t *testing.T, typ event.Type, resrvNo string) event.Event {
	t.Helper()
	var payload any = event.Reservation{ResrvNo: resrvNo, CarNo: "car01"}
	if typ == event.CarRented || typ == event.CarReturned {
		payload = event.Rental{ResrvNo: resrvNo, CarNo: "car01", RentalNo: "rental-" + resrvNo}
	}
	evt, err := event.New("test", typ, "car01", payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return evt
}

func TestCarStatusFollowsEventsWhateverTheirOrder(t *testing.T) {
	sqldbtest.Each(t, "management", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := auth.AsStaff(context.Background())
		store := sqlstore.Store{DB: db}
		svc := management.NewService(store, time.Now, func() {})
		if _, _, err := svc.Register(ctx, management.RegisterRequest{CarNo: "car01", RentalAmt: 10000, CarRegDt: "20200701"}); err != nil {
			t.Fatal(err)
		}
		h := management.EventHandler{Repo: store}
		status := func() management.Status {
			c, err := svc.Get(ctx, "car01")
			if err != nil {
				t.Fatal(err)
			}
			return c.ProcStatus
		}
		reserved1, rented1, returned1 := lifecycle(t, event.CarReserved, "r1"), lifecycle(t, event.CarRented, "r1"), lifecycle(t, event.CarReturned, "r1")
		reserved2 := lifecycle(t, event.CarReserved, "r2")

		// Rental's relay was faster than reservation's.
		steps := []struct {
			evt     event.Event
			wantErr bool
			want    management.Status
		}{
			{rented1, false, management.Rented},
			{reserved1, false, management.Rented}, // late: ignored
			{rented1, false, management.Rented},   // redelivered: ignored
			{reserved2, true, management.Rented},  // r2 overtook r1's return: wait
			{returned1, false, management.Waiting},
			{reserved2, false, management.Reserved}, // redelivered after the return
			{returned1, false, management.Reserved}, // a late duplicate of r1 changes nothing
		}
		for i, s := range steps {
			err := h.Handle(ctx, s.evt)
			if (err != nil) != s.wantErr {
				t.Fatalf("step %d (%s): err %v", i, s.evt.Type, err)
			}
			if got := status(); got != s.want {
				t.Fatalf("step %d (%s): car is %s, want %s", i, s.evt.Type, got, s.want)
			}
		}
		if err := svc.Remove(ctx, "car01"); err == nil {
			t.Fatal("removed a RESERVED car")
		}
	})
}
