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
	"io/fs"
	"time"

	"github.com/carrental/carrental/svc/event"
	"github.com/carrental/carrental/svc/inbox"
	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/sqldb"
	"github.com/carrental/carrental/svc/view"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the read model's tables.
var Migrations, _ = fs.Sub(migrations, "migrations")

// Consumer names this store's inbox entries.
const Consumer = "view"

// Store implements view.Repository.
type Store struct{ DB *sqldb.DB }

var _ view.Repository = Store{}

const query = `SELECT c.car_no, c.rental_amt, c.car_reg_dt, COALESCE(s.stage, 0), COALESCE(s.resrv_no, ''),
	COALESCE(r.cust_no, ''), COALESCE(r.status, ''), COALESCE(r.resrv_dt, ''), COALESCE(r.rental_dt, ''), COALESCE(r.return_dt, ''),
	COALESCE(p.paymt_no, r.paymt_no, ''), COALESCE(p.status, ''),
	COALESCE(t.rental_no, ''), COALESCE(t.status, ''), COALESCE(t.country, ''), COALESCE(t.region, ''),
	CASE WHEN s.updated_at > c.updated_at THEN s.updated_at ELSE c.updated_at END
	FROM cars c
	LEFT JOIN car_state s ON s.car_no = c.car_no
	LEFT JOIN reservations r ON r.resrv_no = s.resrv_no
	LEFT JOIN payments p ON p.resrv_no = s.resrv_no
	LEFT JOIN rentals t ON t.resrv_no = s.resrv_no`

func scan(row sqldb.Scanner) (view.CarInformation, error) {
	var (
		c     view.CarInformation
		stage int
	)
	err := row.Scan(&c.CarNo, &c.RentalAmt, &c.CarRegDt, &stage, &c.ResrvNo, &c.CustNo, &c.ResrvStatus, &c.ResrvDt, &c.RentalDt, &c.ReturnDt,
		&c.PaymtNo, &c.PaymentStatus, &c.RentalNo, &c.RentalStatus, &c.Country, &c.Region, &c.UpdatedAt)
	c.CarStatus = string(management.StatusOfStage(stage))
	return c, err
}

func (s Store) List(ctx context.Context) ([]view.CarInformation, error) {
	return sqldb.List(ctx, s.DB, scan, query+` ORDER BY c.car_no`)
}

func (s Store) Get(ctx context.Context, carNo string) (view.CarInformation, error) {
	c, err := scan(s.DB.QueryRowContext(ctx, query+` WHERE c.car_no = $1`, carNo))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("car %q: %w", carNo, view.ErrNotFound)
	}
	return c, err
}

var errWait = errors.New("wait")

func (s Store) Apply(ctx context.Context, evt event.Event) (event.Decision, error) {
	decision := event.Apply
	_, err := inbox.Apply(ctx, s.DB, Consumer, evt, func(ctx context.Context, tx *sql.Tx) error {
		at := evt.OccurredAt.UTC().Format(time.RFC3339Nano)
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
			for _, table := range []string{"cars", "car_state", "car_lifecycle"} {
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE car_no = $1`, p.CarNo); err != nil {
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
		}
		var err error
		decision, err = s.applyLifecycle(ctx, tx, evt, at)
		if decision == event.Wait {
			return errWait
		}
		return err
	})
	if errors.Is(err, errWait) {
		return event.Wait, nil
	}
	return decision, err
}

// rank orders reservation and rental statuses; facts only move forward.
const rank = `CASE %s WHEN 'RESERVED' THEN 1 WHEN 'RENTED' THEN 2 WHEN '' THEN 0 ELSE 3 END`

func forward(table string) string {
	return fmt.Sprintf(`CASE WHEN `+rank+` > `+rank+` THEN excluded.status ELSE %s.status END`,
		"excluded.status", table+".status", table)
}

func (s Store) applyLifecycle(ctx context.Context, tx *sql.Tx, evt event.Event, at string) (event.Decision, error) {
	var carNo, resrvNo string
	switch evt.Type {
	case event.CarReserved, event.ReservationCanceled:
		var p event.Reservation
		if err := evt.Decode(&p); err != nil {
			return event.Ignore, err
		}
		carNo, resrvNo = p.CarNo, p.ResrvNo
		status := "RESERVED"
		if evt.Type == event.ReservationCanceled {
			status = "CANCELED"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (resrv_no, car_no, cust_no, paymt_no, resrv_dt, rental_dt, return_dt, status)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (resrv_no) DO UPDATE SET cust_no = excluded.cust_no, paymt_no = excluded.paymt_no, resrv_dt = excluded.resrv_dt,
			rental_dt = excluded.rental_dt, return_dt = excluded.return_dt, status = `+forward("reservations"),
			p.ResrvNo, p.CarNo, p.CustNo, p.PaymtNo, p.ResrvDt, p.RentalDt, p.ReturnDt, status); err != nil {
			return event.Ignore, err
		}
	case event.CarRented, event.CarReturned:
		var p event.Rental
		if err := evt.Decode(&p); err != nil {
			return event.Ignore, err
		}
		carNo, resrvNo = p.CarNo, p.ResrvNo
		status := "RENTED"
		if evt.Type == event.CarReturned {
			status = "RETURNED"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO rentals (resrv_no, rental_no, status, country, region) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (resrv_no) DO UPDATE SET rental_no = excluded.rental_no, country = excluded.country, region = excluded.region,
			status = `+forward("rentals"), p.ResrvNo, p.RentalNo, status, p.Country, p.Region); err != nil {
			return event.Ignore, err
		}
		// The reservation moves too; its details come with CarReserved.
		if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (resrv_no, car_no, cust_no, paymt_no, resrv_dt, rental_dt, return_dt, status)
			VALUES ($1, $2, $3, '', '', '', '', $4)
			ON CONFLICT (resrv_no) DO UPDATE SET status = `+forward("reservations"), p.ResrvNo, p.CarNo, p.CustNo, status); err != nil {
			return event.Ignore, err
		}
	default:
		return event.Ignore, nil
	}

	var cur string
	var curStage int
	err := tx.QueryRowContext(ctx, `SELECT resrv_no, stage FROM car_state WHERE car_no = $1`, carNo).Scan(&cur, &curStage)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return event.Ignore, err
	}
	var known int
	err = tx.QueryRowContext(ctx, `SELECT stage FROM car_lifecycle WHERE car_no = $1 AND resrv_no = $2`, carNo, resrvNo).Scan(&known)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return event.Ignore, err
	}
	stage := event.StageOf(evt.Type)
	decision := event.Decide(cur, curStage, resrvNo, known, stage)
	if decision != event.Apply {
		return decision, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO car_state (car_no, resrv_no, stage, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (car_no) DO UPDATE SET resrv_no = excluded.resrv_no, stage = excluded.stage, updated_at = excluded.updated_at`,
		carNo, resrvNo, stage, at); err != nil {
		return event.Ignore, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO car_lifecycle (car_no, resrv_no, stage) VALUES ($1, $2, $3)
		ON CONFLICT (car_no, resrv_no) DO UPDATE SET stage = excluded.stage`, carNo, resrvNo, stage)
	return decision, err
}
