// Package sqlstore keeps rentals in SQL (SQLite or PostgreSQL) with their
// events in the same transactions.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/carrental/carrental/svc/event"
	"github.com/carrental/carrental/svc/outbox"
	"github.com/carrental/carrental/svc/rental"
	"github.com/carrental/carrental/svc/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the rental tables.
var Migrations, _ = fs.Sub(migrations, "migrations")

// Store implements rental.Repository.
type Store struct{ DB *sqldb.DB }

var _ rental.Repository = Store{}

const columns = `rental_no, resrv_no, car_no, cust_no, country, region, proc_status, rented_at, returned_at`

func scan(row sqldb.Scanner) (rental.Rental, error) {
	var (
		r                rental.Rental
		status           string
		rented, returned string
	)
	err := row.Scan(&r.RentalNo, &r.ResrvNo, &r.CarNo, &r.CustNo, &r.Country, &r.Region, &status, &rented, &returned)
	r.ProcStatus = rental.Status(status)
	r.RentedAt, _ = time.Parse(time.RFC3339Nano, rented)
	if t, perr := time.Parse(time.RFC3339Nano, returned); perr == nil {
		r.ReturnedAt = &t
	}
	return r, err
}

func (s Store) Create(ctx context.Context, r rental.Rental, evt event.Event) error {
	return s.DB.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO rentals (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '')`,
			r.RentalNo, r.ResrvNo, r.CarNo, r.CustNo, r.Country, r.Region, string(r.ProcStatus), r.RentedAt.Format(time.RFC3339Nano))
		if sqldb.IsUniqueViolation(err) {
			return rental.ErrExists
		}
		if err != nil {
			return fmt.Errorf("insert rental: %w", err)
		}
		return outbox.Add(ctx, tx, evt)
	})
}

func (s Store) one(ctx context.Context, where, arg string) (rental.Rental, error) {
	r, err := scan(s.DB.QueryRowContext(ctx, `SELECT `+columns+` FROM rentals WHERE `+where+` = $1`, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("rental %q: %w", arg, rental.ErrNotFound)
	}
	return r, err
}

func (s Store) Get(ctx context.Context, rentalNo string) (rental.Rental, error) {
	return s.one(ctx, "rental_no", rentalNo)
}

func (s Store) ByReservation(ctx context.Context, resrvNo string) (rental.Rental, error) {
	return s.one(ctx, "resrv_no", resrvNo)
}

func (s Store) List(ctx context.Context) ([]rental.Rental, error) {
	return sqldb.List(ctx, s.DB, scan, `SELECT `+columns+` FROM rentals ORDER BY rental_no`)
}

func (s Store) MarkReturned(ctx context.Context, rentalNo string, at time.Time, evt event.Event) (bool, error) {
	return outbox.UpdateWithEvent(ctx, s.DB, &evt,
		`UPDATE rentals SET proc_status = $1, returned_at = $2 WHERE rental_no = $3 AND proc_status = $4`,
		string(rental.Returned), at.Format(time.RFC3339Nano), rentalNo, string(rental.Rented))
}
