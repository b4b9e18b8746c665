// Package sqlstore keeps reservations in SQL (SQLite or PostgreSQL) with
// their events in the same transactions.
package sqlstore

import (
	"context"
	"embed"
	"errors"
	"time"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/value"
	"github.com/carrental/carrental/svc/reservation"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the reservation tables.
var Migrations = sqldb.MustSub(migrations, "migrations")

// Store implements reservation.Repository.
type Store struct{ DB *sqldb.DB }

var _ reservation.Repository = Store{}

var reservations = sqldb.Table[reservation.Reservation]{
	Noun:   "reservation",
	Select: `SELECT resrv_no, car_no, cust_no, paymt_no, proc_status, rental_amt, resrv_dt, rental_dt, return_dt, updated_at FROM reservations`,
	Fields: func(r *reservation.Reservation) []any {
		return []any{&r.ResrvNo, &r.CarNo, &r.CustNo, &r.PaymtNo, &r.ProcStatus, &r.RentalAmt, &r.ResrvDt, &r.RentalDt, &r.ReturnDt, sqldb.Timestamp(&r.UpdatedAt)}
	},
	Key:      func(r *reservation.Reservation) string { return r.ResrvNo },
	NotFound: reservation.ErrNotFound,
}

func (s Store) Claim(ctx context.Context, r reservation.Reservation) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO reservations (resrv_no, car_no, cust_no, paymt_no, proc_status, rental_amt, resrv_dt, rental_dt, return_dt, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ResrvNo, r.CarNo, r.CustNo, r.PaymtNo, r.ProcStatus, r.RentalAmt, r.ResrvDt, r.RentalDt, r.ReturnDt, sqldb.Timestamp(&r.UpdatedAt))
	if sqldb.IsUniqueViolation(err) {
		// Either the resrvNo is taken or the car has an active reservation.
		_, getErr := s.Get(ctx, r.ResrvNo)
		switch {
		case getErr == nil:
			return reservation.ErrExists
		case errors.Is(getErr, reservation.ErrNotFound):
			return reservation.ErrCarTaken
		default:
			return getErr
		}
	}
	return err
}

func (s Store) Confirm(ctx context.Context, resrvNo string, at time.Time, evt event.Event) (bool, error) {
	// Confirmed by a concurrent replay when nothing moves: its event is out already.
	return s.Transition(ctx, resrvNo, reservation.Pending, reservation.Reserved, at, &evt)
}

func (s Store) Release(ctx context.Context, resrvNo string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM reservations WHERE resrv_no = $1 AND proc_status = $2`, resrvNo, reservation.Pending)
	return err
}

func (s Store) Transition(ctx context.Context, resrvNo string, from, to reservation.Status, at time.Time, evt *event.Event) (bool, error) {
	return outbox.UpdateWithEvent(ctx, s.DB, evt,
		`UPDATE reservations SET proc_status = $1, updated_at = $2 WHERE resrv_no = $3 AND proc_status = $4`,
		to, sqldb.Timestamp(&at), resrvNo, from)
}

func (s Store) Get(ctx context.Context, resrvNo string) (reservation.Reservation, error) {
	return reservations.One(ctx, s.DB, resrvNo, `WHERE resrv_no = $1`, resrvNo)
}

func (s Store) List(ctx context.Context, custNo string, p value.Page) (value.List[reservation.Reservation], error) {
	if custNo != "" {
		return reservations.Page(ctx, s.DB, "resrv_no", p, "cust_no = $1", custNo)
	}
	return reservations.Page(ctx, s.DB, "resrv_no", p, "")
}
