package inbox_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"testing/fstest"
	"time"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/inbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
)

var migrations = fstest.MapFS{"001.sql": {Data: []byte(`CREATE TABLE counter (n BIGINT NOT NULL); INSERT INTO counter VALUES (0)`)}}

func TestApplyOnce(t *testing.T) {
	sqldbtest.Each(t, "inbox", migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		evt, _ := event.New("management", event.CarRegistered, "car01", event.CarRef{CarNo: "car01"}, time.Now())
		bump := func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE counter SET n = n + 1`)
			return err
		}
		failing := func(ctx context.Context, tx *sql.Tx) error {
			if err := bump(ctx, tx); err != nil {
				return err
			}
			return errors.New("downstream failed")
		}
		if applied, err := inbox.Apply(ctx, db, "c", evt, failing); err == nil || applied {
			t.Fatalf("failing handler: applied=%v err=%v", applied, err)
		}
		for i, want := range []bool{true, false, false} {
			applied, err := inbox.Apply(ctx, db, "c", evt, bump)
			if err != nil || applied != want {
				t.Fatalf("delivery %d: applied=%v err=%v", i, applied, err)
			}
		}
		// Another consumer of the same event applies it on its own.
		if applied, err := inbox.Apply(ctx, db, "other", evt, bump); err != nil || !applied {
			t.Fatalf("other consumer: applied=%v err=%v", applied, err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("counter = %d (%v), want 2", n, err)
		}
	})
}
