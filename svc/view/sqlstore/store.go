// Package sqlstore keeps the read model in SQL (SQLite or PostgreSQL).
// Every event is applied at most once (inbox) and facts only move forward,
// so redelivered and out-of-order events leave the same rows.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/inbox"
	"github.com/carrental/carrental/svc/platform/lifecycle"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/value"
	"github.com/carrental/carrental/svc/view"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the read model's tables.
var Migrations = sqldb.MustSub(migrations, "migrations")

// Consumer names this store's inbox entries.
const Consumer = "view"

// Store implements view.Repository.
type Store struct{ DB *sqldb.DB }

var _ view.Repository = Store{}

var information = sqldb.Table[view.CarInformation]{
	Noun: "car",
	Select: `SELECT c.car_no, c.rental_amt, c.car_reg_dt, COALESCE(s.stage, 0), COALESCE(s.resrv_no, ''),
	COALESCE(r.cust_no, ''), COALESCE(r.status, ''), COALESCE(r.resrv_dt, ''), COALESCE(r.rental_dt, ''), COALESCE(r.return_dt, ''),
	COALESCE(p.paymt_no, r.paymt_no, ''), COALESCE(p.status, ''),
	COALESCE(t.rental_no, ''), COALESCE(t.status, ''), COALESCE(t.country, ''), COALESCE(t.region, ''),
	CASE WHEN s.updated_at > c.updated_at THEN s.updated_at ELSE c.updated_at END
	FROM cars c
	LEFT JOIN car_state s ON s.car_no = c.car_no
	LEFT JOIN reservations r ON r.resrv_no = s.resrv_no
	LEFT JOIN payments p ON p.resrv_no = s.resrv_no
	LEFT JOIN rentals t ON t.resrv_no = s.resrv_no`,
	Fields: func(c *view.CarInformation) []any {
		return []any{&c.CarNo, &c.RentalAmt, &c.CarRegDt, carStatus{&c.CarStatus}, &c.ResrvNo, &c.CustNo, &c.ResrvStatus, &c.ResrvDt, &c.RentalDt, &c.ReturnDt,
			&c.PaymtNo, &c.PaymentStatus, &c.RentalNo, &c.RentalStatus, &c.Country, &c.Region, &c.UpdatedAt}
	},
	Key:      func(c *view.CarInformation) string { return c.CarNo },
	NotFound: view.ErrNotFound,
}

// carStatus scans a stored lifecycle stage as the car status it means.
type carStatus struct{ p *string }

func (c carStatus) Scan(src any) error {
	var stage lifecycle.Stage
	switch v := src.(type) {
	case int64:
		stage = lifecycle.Stage(v)
	case int32:
		stage = lifecycle.Stage(v)
	default:
		return fmt.Errorf("stage column holds %T, want an integer", src)
	}
	*c.p = string(stage.CarStatus())
	return nil
}

func (s Store) List(ctx context.Context, p value.Page) (value.List[view.CarInformation], error) {
	return information.Page(ctx, s.DB, "c.car_no", p, "")
}

func (s Store) Get(ctx context.Context, carNo string) (view.CarInformation, error) {
	return information.One(ctx, s.DB, carNo, `WHERE c.car_no = $1`, carNo)
}

func (s Store) Apply(ctx context.Context, evt event.Event) error {
	_, err := inbox.Apply(ctx, s.DB, Consumer, evt, func(ctx context.Context, tx *sql.Tx) error {
		at := sqldb.Timestamp(&evt.OccurredAt)
		switch evt.Type {
		case event.CarRegistered, event.CarUpdated:
			var p event.Car
			if err := evt.Decode(&p); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO cars (car_no, rental_amt, car_reg_dt, updated_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (car_no) DO UPDATE SET rental_amt = excluded.rental_amt, car_reg_dt = excluded.car_reg_dt, updated_at = excluded.updated_at`,
				p.CarNo, p.RentalAmt, p.CarRegDt, at)
			return err
		case event.CarDeleted:
			var p event.CarRef
			if err := evt.Decode(&p); err != nil {
				return err
			}
			for _, del := range []string{`DELETE FROM cars WHERE car_no = $1`, `DELETE FROM car_state WHERE car_no = $1`, `DELETE FROM car_lifecycle WHERE car_no = $1`} {
				if _, err := tx.ExecContext(ctx, del, p.CarNo); err != nil {
					return err
				}
			}
			return nil
		case event.PaymentApproved, event.PaymentCanceled:
			var p event.Payment
			if err := evt.Decode(&p); err != nil {
				return err
			}
			// CANCELED is final: a late APPROVED does not undo it.
			_, err := tx.ExecContext(ctx, `INSERT INTO payments (resrv_no, paymt_no, status) VALUES ($1, $2, $3)
				ON CONFLICT (resrv_no) DO UPDATE SET paymt_no = excluded.paymt_no,
				status = CASE WHEN payments.status = 'CANCELED' THEN payments.status ELSE excluded.status END`,
				p.ResrvNo, p.PaymtNo, p.Status)
			return err
		case event.CarReserved, event.ReservationCanceled, event.CarRented, event.CarReturned:
			return s.applyLifecycle(ctx, tx, evt)
		}
		return nil
	})
	return err
}

// Reservation and rental statuses only move forward: RESERVED (1), RENTED
// (2), then a final one (3: CANCELED or RETURNED). A stored status is
// replaced only by one that ranks higher.
const (
	reservationStatusForward = `CASE WHEN
		(CASE excluded.status WHEN 'RESERVED' THEN 1 WHEN 'RENTED' THEN 2 WHEN '' THEN 0 ELSE 3 END) >
		(CASE reservations.status WHEN 'RESERVED' THEN 1 WHEN 'RENTED' THEN 2 WHEN '' THEN 0 ELSE 3 END)
		THEN excluded.status ELSE reservations.status END`
	rentalStatusForward = `CASE WHEN
		(CASE excluded.status WHEN 'RESERVED' THEN 1 WHEN 'RENTED' THEN 2 WHEN '' THEN 0 ELSE 3 END) >
		(CASE rentals.status WHEN 'RESERVED' THEN 1 WHEN 'RENTED' THEN 2 WHEN '' THEN 0 ELSE 3 END)
		THEN excluded.status ELSE rentals.status END`
)

// applyLifecycle records what a lifecycle event says about its reservation
// and rental, then moves the car as lifecycle.Advance decides.
func (s Store) applyLifecycle(ctx context.Context, tx *sql.Tx, evt event.Event) error {
	step, err := lifecycle.StepOf(evt)
	if err != nil {
		return err
	}
	switch evt.Type {
	case event.CarReserved, event.ReservationCanceled:
		var p event.Reservation
		if err := evt.Decode(&p); err != nil {
			return err
		}
		status := "RESERVED"
		if evt.Type == event.ReservationCanceled {
			status = "CANCELED"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (resrv_no, car_no, cust_no, paymt_no, resrv_dt, rental_dt, return_dt, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (resrv_no) DO UPDATE SET cust_no = excluded.cust_no, paymt_no = excluded.paymt_no, resrv_dt = excluded.resrv_dt,
			rental_dt = excluded.rental_dt, return_dt = excluded.return_dt, status = `+reservationStatusForward,
			p.ResrvNo, p.CarNo, p.CustNo, p.PaymtNo, p.ResrvDt, p.RentalDt, p.ReturnDt, status); err != nil {
			return err
		}
	case event.CarRented, event.CarReturned:
		var p event.Rental
		if err := evt.Decode(&p); err != nil {
			return err
		}
		status := "RENTED"
		if evt.Type == event.CarReturned {
			status = "RETURNED"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rentals (resrv_no, rental_no, status, country, region) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (resrv_no) DO UPDATE SET rental_no = excluded.rental_no, country = excluded.country, region = excluded.region,
			status = `+rentalStatusForward, p.ResrvNo, p.RentalNo, status, p.Country, p.Region); err != nil {
			return err
		}
		// The reservation moves too; its details come with CarReserved.
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (resrv_no, car_no, cust_no, paymt_no, resrv_dt, rental_dt, return_dt, status)
			VALUES ($1, $2, $3, '', '', '', '', $4)
			ON CONFLICT (resrv_no) DO UPDATE SET status = `+reservationStatusForward, p.ResrvNo, p.CarNo, p.CustNo, status); err != nil {
			return err
		}
	}

	// A car the view has not seen reserved yet has no car_state row: it
	// stands at the zero Position.
	var cur lifecycle.Position
	err = tx.QueryRowContext(ctx, `SELECT resrv_no, stage FROM car_state WHERE car_no = $1`, step.CarNo).Scan(&cur.ResrvNo, &cur.Stage)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("car %q: %w", step.CarNo, err)
	}
	return lifecycle.Advance(ctx, tx, cur, step, func(to lifecycle.Position) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO car_state (car_no, resrv_no, stage, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (car_no) DO UPDATE SET resrv_no = excluded.resrv_no, stage = excluded.stage, updated_at = excluded.updated_at`,
			step.CarNo, to.ResrvNo, to.Stage, sqldb.Timestamp(&step.At))
		return err
	})
}
