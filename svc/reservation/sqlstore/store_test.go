package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/platform/value"
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
