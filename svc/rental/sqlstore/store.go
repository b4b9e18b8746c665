// Package sqlstore keeps rentals in SQL (SQLite or PostgreSQL) with their
// events in the same transactions.
package sqlstore

import (
	"context"
	"embed"
	"time"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/value"
	"github.com/carrental/carrental/svc/rental"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the rental tables.
var Migrations = sqldb.MustSub(migrations, "migrations")

// Store implements rental.Repository.
type Store struct{ DB *sqldb.DB }

var _ rental.Repository = Store{}

var rentals = sqldb.Table[rental.Rental]{
	Noun:   "rental",
	Select: `SELECT rental_no, resrv_no, car_no, cust_no, country, region, proc_status, rented_at, returned_at FROM rentals`,
	Fields: func(r *rental.Rental) []any {
		return []any{&r.RentalNo, &r.ResrvNo, &r.CarNo, &r.CustNo, &r.Country, &r.Region, &r.ProcStatus,
			sqldb.Timestamp(&r.RentedAt), sqldb.OptionalTimestamp(&r.ReturnedAt)}
	},
	Key:      func(r *rental.Rental) string { return r.RentalNo },
	NotFound: rental.ErrNotFound,
}

func (s Store) Create(ctx context.Context, r rental.Rental, evt event.Event) error {
	return outbox.InsertWithEvent(ctx, s.DB, evt, rental.ErrExists,
		`INSERT INTO rentals (rental_no, resrv_no, car_no, cust_no, country, region, proc_status, rented_at, returned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '')`,
		r.RentalNo, r.ResrvNo, r.CarNo, r.CustNo, r.Country, r.Region, r.ProcStatus, sqldb.Timestamp(&r.RentedAt))
}

func (s Store) Get(ctx context.Context, rentalNo string) (rental.Rental, error) {
	return rentals.One(ctx, s.DB, rentalNo, `WHERE rental_no = $1`, rentalNo)
}

func (s Store) ByReservation(ctx context.Context, resrvNo string) (rental.Rental, error) {
	return rentals.One(ctx, s.DB, resrvNo, `WHERE resrv_no = $1`, resrvNo)
}

func (s Store) List(ctx context.Context, custNo string, p value.Page) (value.List[rental.Rental], error) {
	if custNo != "" {
		return rentals.Page(ctx, s.DB, "rental_no", p, "cust_no = $1", custNo)
	}
	return rentals.Page(ctx, s.DB, "rental_no", p, "")
}

func (s Store) MarkReturned(ctx context.Context, rentalNo string, at time.Time, evt event.Event) (bool, error) {
	return outbox.UpdateWithEvent(ctx, s.DB, &evt,
		`UPDATE rentals SET proc_status = $1, returned_at = $2 WHERE rental_no = $3 AND proc_status = $4`,
		rental.Returned, sqldb.Timestamp(&at), rentalNo, rental.Rented)
}
