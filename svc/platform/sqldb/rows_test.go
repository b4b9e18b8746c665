package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/platform/value"
)

type booking struct {
	No       string
	At       time.Time
	Returned *time.Time
}

var errNoBooking = errors.New("booking not found")

var bookings = sqldb.Table[booking]{
	Noun:   "booking",
	Select: `SELECT no, at, returned FROM bookings`,
	Fields: func(b *booking) []any {
		return []any{&b.No, sqldb.Timestamp(&b.At), sqldb.OptionalTimestamp(&b.Returned)}
	},
	Key:      func(b *booking) string { return b.No },
	NotFound: errNoBooking,
}

var bookingTables = fstest.MapFS{"001.sql": {Data: []byte(`CREATE TABLE bookings (no TEXT PRIMARY KEY, at TEXT NOT NULL, returned TEXT NOT NULL)`)}}

func TestTableRoundTripsTimestampsAndNamesCorruptRows(t *testing.T) {
	sqldbtest.Each(t, "rows", bookingTables, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		at := time.Date(2020, 8, 1, 9, 30, 0, 123456789, time.UTC)
		var none *time.Time
		for _, row := range []struct {
			no       string
			at       any
			returned any
		}{
			{"b1", sqldb.Timestamp(&at), sqldb.OptionalTimestamp(&none)},
			{"b2", sqldb.Timestamp(&at), sqldb.OptionalTimestamp(func() **time.Time { p := &at; return &p }())},
		} {
			if _, err := db.ExecContext(ctx, `INSERT INTO bookings (no, at, returned) VALUES ($1, $2, $3)`, row.no, row.at, row.returned); err != nil {
				t.Fatal(err)
			}
		}
		got, err := bookings.List(ctx, db, `ORDER BY no`)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].At.Equal(at) || got[0].Returned != nil || got[1].Returned == nil || !got[1].Returned.Equal(at) {
			t.Fatalf("round trip: %+v", got)
		}
		if _, err := bookings.One(ctx, db, "b9", `WHERE no = $1`, "b9"); !errors.Is(err, errNoBooking) || !strings.Contains(err.Error(), `"b9"`) {
			t.Fatalf("missing row: %v", err)
		}

		// A timestamp that does not parse is an error naming the row, in
		// One and in List, never a zero time.
		if _, err := db.ExecContext(ctx, `INSERT INTO bookings (no, at, returned) VALUES ('b3', 'yesterday', '')`); err != nil {
			t.Fatal(err)
		}
		for name, read := range map[string]func() error{
			"One":  func() error { _, err := bookings.One(ctx, db, "b3", `WHERE no = $1`, "b3"); return err },
			"List": func() error { _, err := bookings.List(ctx, db, `ORDER BY no`); return err },
		} {
			err := read()
			if err == nil || !strings.Contains(err.Error(), `booking "b3"`) || !strings.Contains(err.Error(), `corrupt timestamp "yesterday"`) {
				t.Errorf("%s of a corrupt row: %v", name, err)
			}
		}
	})
}

// Walking the pages sees every row that existed when the walk began
// exactly once, in key order, while other rows are being inserted.
func TestPagesWalkEveryRowOnceUnderConcurrentInserts(t *testing.T) {
	sqldbtest.Each(t, "pages", bookingTables, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		at := time.Now().UTC()
		insert := func(no string) error {
			_, err := db.ExecContext(ctx, `INSERT INTO bookings (no, at, returned) VALUES ($1, $2, '')`, no, sqldb.Timestamp(&at))
			return err
		}
		existing := map[string]bool{}
		for i := range 230 {
			no := fmt.Sprintf("b%04d", i*2) // gaps for the concurrent inserts to land in
			if err := insert(no); err != nil {
				t.Fatal(err)
			}
			existing[no] = true
		}
		stop, started := make(chan struct{}), make(chan struct{})
		inserted := make(chan error, 1)
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					inserted <- nil
					return
				default:
				}
				if err := insert(fmt.Sprintf("b%04d", i*2+1)); err != nil {
					inserted <- err
					return
				}
				if i == 0 {
					close(started)
				}
			}
		}()
		// The walk starts once inserts do (on a loaded machine the inserter
		// could otherwise not run before the walk ended, and b0001 would be
		// missing from the filtered page below).
		select {
		case <-started:
		case err := <-inserted:
			t.Fatal(err)
		}
		seen := map[string]int{}
		last := ""
		p := value.Page{Limit: 17}
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("the walk does not end")
			}
			l, err := bookings.Page(ctx, db, "no", p, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range l.Items {
				if b.No <= last {
					t.Fatalf("%s after %s: not in key order", b.No, last)
				}
				last = b.No
				seen[b.No]++
			}
			if l.Next == "" {
				break
			}
			p.After = l.Next
		}
		close(stop)
		if err := <-inserted; err != nil {
			t.Fatal(err)
		}
		for no := range existing {
			if seen[no] != 1 {
				t.Errorf("%s seen %d times", no, seen[no])
			}
		}
		for no, n := range seen {
			if n != 1 {
				t.Errorf("%s seen %d times", no, n)
			}
		}
		// A filter combines with the page.
		l, err := bookings.Page(ctx, db, "no", value.Page{Limit: 5}, "no < $1", "b0010")
		if err != nil || len(l.Items) != 5 || l.Next != l.Items[4].No || l.Items[4].No >= "b0010" {
			t.Fatalf("filtered page %+v (%v)", l, err)
		}
	})
}
