package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
)

// Statements are prepared once per connection and run again with new
// arguments; a statement whose rows are still open is not reused under
// them (a fresh one runs the text), and multi-statement scripts still run
// whole.
func TestCachedStatementsGiveTheRightRows(t *testing.T) {
	db := sqldbtest.SQLite(t, "cache", migrations)
	ctx := context.Background()
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range 10 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ($1, $2)`, fmt.Sprintf("car%d", i), i); err != nil {
				return err
			}
		}
		const q = `SELECT car_no FROM cars WHERE amount >= $1 ORDER BY amount`
		outer, err := tx.QueryContext(ctx, q, 5)
		if err != nil {
			return err
		}
		defer outer.Close()
		seen := 0
		for outer.Next() {
			var no string
			if err := outer.Scan(&no); err != nil {
				return err
			}
			// The same text again while outer's rows are open.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+q+`)`, 8).Scan(&n); err != nil || n != 2 {
				return fmt.Errorf("inner count %d (%v)", n, err)
			}
			inner, err := tx.QueryContext(ctx, q, 9)
			if err != nil {
				return err
			}
			var last string
			for inner.Next() {
				_ = inner.Scan(&last)
			}
			inner.Close()
			if last != "car9" {
				return fmt.Errorf("inner rows end at %q", last)
			}
			seen++
		}
		if seen != 5 {
			return fmt.Errorf("outer rows: %d, want 5", seen)
		}
		return outer.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	// A script of several statements is not cut to its first.
	if _, err := db.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ('a', 1); INSERT INTO cars (car_no, amount) VALUES ('b', 2);`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cars WHERE car_no IN ('a', 'b')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("script ran %d of 2 inserts (%v)", n, err)
	}
}
