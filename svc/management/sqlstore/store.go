// Package sqlstore keeps the fleet in SQL (SQLite or PostgreSQL through
// database/sql) with the car's events in the same transactions.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/carrental/carrental/svc/errs"
	"github.com/carrental/carrental/svc/event"
	"github.com/carrental/carrental/svc/inbox"
	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/outbox"
	"github.com/carrental/carrental/svc/sqldb"
	"github.com/carrental/carrental/svc/value"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the fleet's tables.
var Migrations, _ = fs.Sub(migrations, "migrations")

// Consumer names this store's inbox entries.
const Consumer = "management"

// Store implements management.Repository.
type Store struct{ DB *sqldb.DB }

var _ management.Repository = Store{}

const columns = `car_no, rental_amt, proc_status, car_reg_dt, resrv_no, stage, updated_at`

func scanCar(row sqldb.Scanner) (management.Car, error) {
	var (
		c       management.Car
		amt     int64
		status  string
		regDt   string
		updated string
	)
	if err := row.Scan(&c.CarNo, &amt, &status, &regDt, &c.ResrvNo, &c.Stage, &updated); err != nil {
		return c, err
	}
	c.RentalAmt, c.ProcStatus, c.CarRegDt = value.Amount(amt), management.Status(status), value.Date(regDt)
	c.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return c, nil
}

func (s Store) Create(ctx context.Context, c management.Car, evt event.Event) error {
	return s.DB.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cars (`+columns+`) VALUES ($1, $2, $3, $4, '', 0, $5)`,
			c.CarNo, int64(c.RentalAmt), string(c.ProcStatus), string(c.CarRegDt), c.UpdatedAt.Format(time.RFC3339Nano))
		if sqldb.IsUniqueViolation(err) {
			return management.ErrExists
		}
		if err != nil {
			return fmt.Errorf("insert car: %w", err)
		}
		return outbox.Add(ctx, tx, evt)
	})
}

func (s Store) Get(ctx context.Context, carNo string) (management.Car, error) {
	c, err := scanCar(s.DB.QueryRowContext(ctx, `SELECT `+columns+` FROM cars WHERE car_no = $1`, carNo))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("car %q: %w", carNo, management.ErrNotFound)
	}
	return c, err
}

func (s Store) List(ctx context.Context) ([]management.Car, error) {
	return sqldb.List(ctx, s.DB, scanCar, `SELECT `+columns+` FROM cars ORDER BY car_no`)
}

func (s Store) UpdateAmount(ctx context.Context, carNo string, amt value.Amount, at time.Time, evt func(management.Car) (event.Event, error)) (management.Car, error) {
	var car management.Car
	err := s.DB.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE cars SET rental_amt = $1, updated_at = $2 WHERE car_no = $3`,
			int64(amt), at.Format(time.RFC3339Nano), carNo)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("car %q: %w", carNo, management.ErrNotFound)
		}
		if car, err = scanCar(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM cars WHERE car_no = $1`, carNo)); err != nil {
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
		res, err := tx.ExecContext(ctx, `DELETE FROM cars WHERE car_no = $1 AND proc_status = $2`, carNo, string(management.Waiting))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.Conflict, "car %q is not WAITING any more (or was removed)", carNo)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM car_lifecycle WHERE car_no = $1`, carNo); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, evt)
	})
}

// errWait rolls back an event that must wait, so the inbox does not record it.
var errWait = errors.New("wait")

func (s Store) ApplyLifecycle(ctx context.Context, evt event.Event, carNo, resrvNo string, stage int) (event.Decision, error) {
	decision := event.Ignore
	_, err := inbox.Apply(ctx, s.DB, Consumer, evt, func(ctx context.Context, tx *sql.Tx) error {
		var cur string
		var curStage int
		err := tx.QueryRowContext(ctx, `SELECT resrv_no, stage FROM cars WHERE car_no = $1`, carNo).Scan(&cur, &curStage)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a car removed since: nothing to move
		}
		if err != nil {
			return err
		}
		var known int
		err = tx.QueryRowContext(ctx, `SELECT stage FROM car_lifecycle WHERE car_no = $1 AND resrv_no = $2`, carNo, resrvNo).Scan(&known)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		decision = event.Decide(cur, curStage, resrvNo, known, stage)
		switch decision {
		case event.Wait:
			return errWait
		case event.Ignore:
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cars SET resrv_no = $1, stage = $2, proc_status = $3, updated_at = $4 WHERE car_no = $5`,
			resrvNo, stage, string(management.StatusOfStage(stage)), evt.OccurredAt.Format(time.RFC3339Nano), carNo); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO car_lifecycle (car_no, resrv_no, stage) VALUES ($1, $2, $3)
			ON CONFLICT (car_no, resrv_no) DO UPDATE SET stage = excluded.stage`, carNo, resrvNo, stage)
		return err
	})
	if errors.Is(err, errWait) {
		return event.Wait, nil
	}
	return decision, err
}
