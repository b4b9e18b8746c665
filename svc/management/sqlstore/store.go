// Package sqlstore keeps the fleet in SQL (SQLite or PostgreSQL through
// database/sql) with the car's events in the same transactions.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/inbox"
	"github.com/carrental/carrental/svc/platform/lifecycle"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/value"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the fleet's tables.
var Migrations = sqldb.MustSub(migrations, "migrations")

// Consumer names this store's inbox entries.
const Consumer = "management"

// Store implements management.Repository.
type Store struct{ DB *sqldb.DB }

var _ management.Repository = Store{}

var cars = sqldb.Table[management.Car]{
	Noun:   "car",
	Select: `SELECT car_no, rental_amt, proc_status, car_reg_dt, resrv_no, stage, updated_at FROM cars`,
	Fields: func(c *management.Car) []any {
		return []any{&c.CarNo, &c.RentalAmt, &c.ProcStatus, &c.CarRegDt, &c.ResrvNo, &c.Stage, sqldb.Timestamp(&c.UpdatedAt)}
	},
	Key:      func(c *management.Car) string { return c.CarNo },
	NotFound: management.ErrNotFound,
}

func (s Store) Create(ctx context.Context, c management.Car, evt event.Event) error {
	return outbox.InsertWithEvent(ctx, s.DB, evt, management.ErrExists,
		`INSERT INTO cars (car_no, rental_amt, proc_status, car_reg_dt, resrv_no, stage, updated_at) VALUES ($1, $2, $3, $4, '', 0, $5)`,
		c.CarNo, c.RentalAmt, c.ProcStatus, c.CarRegDt, sqldb.Timestamp(&c.UpdatedAt))
}

func (s Store) Get(ctx context.Context, carNo string) (management.Car, error) {
	return cars.One(ctx, s.DB, carNo, `WHERE car_no = $1`, carNo)
}

func (s Store) List(ctx context.Context, p value.Page) (value.List[management.Car], error) {
	return cars.Page(ctx, s.DB, "car_no", p, "")
}

func (s Store) UpdateAmount(ctx context.Context, carNo string, amt value.Amount, at time.Time, evt func(management.Car) (event.Event, error)) (management.Car, error) {
	var car management.Car
	err := s.DB.Tx(ctx, func(tx *sql.Tx) error {
		changed, err := sqldb.Exec(ctx, tx, `UPDATE cars SET rental_amt = $1, updated_at = $2 WHERE car_no = $3`,
			amt, sqldb.Timestamp(&at), carNo)
		if err != nil {
			return err
		}
		if changed == 0 {
			return fmt.Errorf("car %q: %w", carNo, management.ErrNotFound)
		}
		if car, err = cars.One(ctx, tx, carNo, `WHERE car_no = $1`, carNo); err != nil {
			return err
		}
		e, err := evt(car)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	return car, err
}

func (s Store) Delete(ctx context.Context, carNo string, evt event.Event) error {
	return s.DB.Tx(ctx, func(tx *sql.Tx) error {
		// Only a WAITING car goes: a reservation that raced the check keeps it.
		removed, err := sqldb.Exec(ctx, tx, `DELETE FROM cars WHERE car_no = $1 AND proc_status = $2`, carNo, management.Waiting)
		if err != nil {
			return err
		}
		if removed == 0 {
			return errs.E(errs.Conflict, "car %q is not WAITING any more (or was removed)", carNo)
		}
		if _, err := sqldb.Exec(ctx, tx, `DELETE FROM car_lifecycle WHERE car_no = $1`, carNo); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, evt)
	})
}

func (s Store) ApplyLifecycle(ctx context.Context, evt event.Event, step lifecycle.Step) error {
	_, err := inbox.Apply(ctx, s.DB, Consumer, evt, func(ctx context.Context, tx *sql.Tx) error {
		var cur lifecycle.Position
		err := tx.QueryRowContext(ctx, `SELECT resrv_no, stage FROM cars WHERE car_no = $1`, step.CarNo).Scan(&cur.ResrvNo, &cur.Stage)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a car removed since: nothing to move
		}
		if err != nil {
			return fmt.Errorf("car %q: %w", step.CarNo, err)
		}
		return lifecycle.Advance(ctx, tx, cur, step, func(to lifecycle.Position) error {
			_, err := sqldb.Exec(ctx, tx, `UPDATE cars SET resrv_no = $1, stage = $2, proc_status = $3, updated_at = $4 WHERE car_no = $5`,
				to.ResrvNo, to.Stage, to.Stage.CarStatus(), sqldb.Timestamp(&step.At), step.CarNo)
			return err
		})
	})
	return err
}
