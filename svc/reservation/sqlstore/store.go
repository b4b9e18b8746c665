// Package sqlstore keeps reservations in SQL (SQLite or PostgreSQL) with
// their events in the same transactions.
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
	"github.com/carrental/carrental/svc/reservation"
	"github.com/carrental/carrental/svc/sqldb"
	"github.com/carrental/carrental/svc/value"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the reservation tables.
var Migrations, _ = fs.Sub(migrations, "migrations")

// Store implements reservation.Repository.
type Store struct{ DB *sqldb.DB }

var _ reservation.Repository = Store{}

const columns = `resrv_no, car_no, cust_no, paymt_no, proc_status, rental_amt, resrv_dt, rental_dt, return_dt, updated_at`

func scan(row sqldb.Scanner) (reservation.Reservation, error) {
	var (
		r                reservation.Reservation
		status           string
		amt              int64
		resrv, rent, ret string
		updated          string
	)
	err := row.Scan(&r.ResrvNo, &r.CarNo, &r.CustNo, &r.PaymtNo, &status, &amt, &resrv, &rent, &ret, &updated)
	r.ProcStatus, r.RentalAmt = reservation.Status(status), value.Amount(amt)
	r.ResrvDt, r.RentalDt, r.ReturnDt = value.Date(resrv), value.Date(rent), value.Date(ret)
	r.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return r, err
}

func (s Store) Claim(ctx context.Context, r reservation.Reservation) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO reservations (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ResrvNo, r.CarNo, r.CustNo, r.PaymtNo, string(r.ProcStatus), int64(r.RentalAmt),
		string(r.ResrvDt), string(r.RentalDt), string(r.ReturnDt), r.UpdatedAt.Format(time.RFC3339Nano))
	if sqldb.IsUniqueViolation(err) {
		if _, getErr := s.Get(ctx, r.ResrvNo); getErr == nil {
			return reservation.ErrExists
		}
		return reservation.ErrCarTaken
	}
	return err
}

func (s Store) Confirm(ctx context.Context, resrvNo string, at time.Time, evt event.Event) error {
	// Confirmed by a concurrent replay when nothing moves: its event is out already.
	_, err := s.Transition(ctx, resrvNo, reservation.Pending, reservation.Reserved, at, &evt)
	return err
}

func (s Store) Release(ctx context.Context, resrvNo string) error {
	_, err := s.DB.ExecContext(ctx, `DELETE FROM reservations WHERE resrv_no = $1 AND proc_status = $2`, resrvNo, string(reservation.Pending))
	return err
}

func (s Store) Transition(ctx context.Context, resrvNo string, from, to reservation.Status, at time.Time, evt *event.Event) (bool, error) {
	return outbox.UpdateWithEvent(ctx, s.DB, evt,
		`UPDATE reservations SET proc_status = $1, updated_at = $2 WHERE resrv_no = $3 AND proc_status = $4`,
		string(to), at.Format(time.RFC3339Nano), resrvNo, string(from))
}

func (s Store) Get(ctx context.Context, resrvNo string) (reservation.Reservation, error) {
	r, err := scan(s.DB.QueryRowContext(ctx, `SELECT `+columns+` FROM reservations WHERE resrv_no = $1`, resrvNo))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("reservation %q: %w", resrvNo, reservation.ErrNotFound)
	}
	return r, err
}

func (s Store) List(ctx context.Context) ([]reservation.Reservation, error) {
	return sqldb.List(ctx, s.DB, scan, `SELECT `+columns+` FROM reservations ORDER BY resrv_no`)
}
