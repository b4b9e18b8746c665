package sqlstore_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/platform/value"
	"github.com/carrental/carrental/svc/reservation"
	"github.com/carrental/carrental/svc/reservation/sqlstore"
)

// A row whose timestamp was damaged outside the service is reported, with
// its key, instead of being served with a year-1 date.
func TestCorruptTimestampIsAnErrorWithTheRowsKey(t *testing.T) {
	sqldbtest.Each(t, "reservation", sqlstore.Migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `INSERT INTO reservations (resrv_no, car_no, cust_no, paymt_no, proc_status, rental_amt, resrv_dt, rental_dt, return_dt, updated_at)
			VALUES ('res01', 'car01', 'cus01', 'pay01', 'RESERVED', 10000, '20200801', '20200802', '20200805', '2020-08-01 nine-ish')`); err != nil {
			t.Fatal(err)
		}
		store := sqlstore.Store{DB: db}
		if _, err := store.Get(ctx, "res01"); err == nil || !strings.Contains(err.Error(), `reservation "res01"`) {
			t.Fatalf("Get: %v", err)
		}
		if _, err := store.List(ctx, "", value.Page{Limit: value.DefaultPageLimit}); err == nil || !strings.Contains(err.Error(), `reservation "res01"`) {
			t.Fatalf("List: %v", err)
		}
	})
}

// A database made before reservations went WITHOUT ROWID keeps its rows, and
// the rebuilt table still holds one active reservation per car.
func TestUpgradedReservationsKeepRowsAndTheOneActivePerCarRule(t *testing.T) {
	ctx := context.Background()
	first, err := fs.ReadFile(sqlstore.Migrations, "001_reservations.sql")
	if err != nil {
		t.Fatal(err)
	}
	db := sqldbtest.SQLite(t, "reservation", fstest.MapFS{"001_reservations.sql": {Data: first}})
	store := sqlstore.Store{DB: db}
	held := reservation.Reservation{ResrvNo: "res01", CarNo: "car01", CustNo: "cus01", PaymtNo: "pay01", ProcStatus: reservation.Reserved,
		RentalAmt: 10000, ResrvDt: "20200801", RentalDt: "20200802", ReturnDt: "20200805", UpdatedAt: time.Date(2020, 8, 1, 9, 0, 0, 0, time.UTC)}
	if err := store.Claim(ctx, held); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, sqlstore.Migrations); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, "res01")
	if err != nil || got != held {
		t.Fatalf("after the upgrade: %+v, %v; want %+v", got, err, held)
	}
	other := held
	other.ResrvNo, other.PaymtNo = "res02", "pay02"
	if err := store.Claim(ctx, other); !errors.Is(err, reservation.ErrCarTaken) {
		t.Fatalf("a second active reservation of car01: %v, want ErrCarTaken", err)
	}
}
