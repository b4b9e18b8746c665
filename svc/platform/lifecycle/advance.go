package lifecycle

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
)

// Step is one lifecycle event as it concerns one car.
type Step struct {
	CarNo, ResrvNo string
	Stage          Stage
	At             time.Time
}

// StepOf reads the car and reservation a lifecycle event is about.
func StepOf(evt event.Event) (Step, error) {
	step := Step{Stage: StageOf(evt.Type), At: evt.OccurredAt}
	switch evt.Type {
	case event.CarReserved, event.ReservationCanceled:
		var p event.Reservation
		err := evt.Decode(&p)
		step.CarNo, step.ResrvNo = p.CarNo, p.ResrvNo
		return step, err
	case event.CarRented, event.CarReturned:
		var p event.Rental
		err := evt.Decode(&p)
		step.CarNo, step.ResrvNo = p.CarNo, p.ResrvNo
		return step, err
	}
	return step, errs.E(errs.Invalid, "event %s is not a lifecycle event", evt.Type)
}

// ErrWait marks an event that overtook its predecessor: the car's current
// reservation has not finished yet. It is a conflict, so a consumer that
// returns it has the event redelivered later, and a transaction that
// returns it rolls back (the inbox does not record the event).
var ErrWait = errors.New("waits for the car's current reservation to finish")

// Advance applies step to a car standing at cur, inside tx. It decides
// against the reservations this car went through (the car_lifecycle table
// every follower keeps), calls move when the car moves, and records the
// step. An event that must wait is an error wrapping ErrWait.
func Advance(ctx context.Context, tx *sql.Tx, cur Position, step Step, move func(to Position) error) error {
	var known Stage
	err := tx.QueryRowContext(ctx, `SELECT stage FROM car_lifecycle WHERE car_no = $1 AND resrv_no = $2`,
		step.CarNo, step.ResrvNo).Scan(&known)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("car %q: lifecycle of %q: %w", step.CarNo, step.ResrvNo, err)
	}
	switch Decide(cur, step.ResrvNo, known, step.Stage) {
	case Wait:
		return errs.Wrap(errs.Conflict, ErrWait, "car %s: stage %d of %s waits for reservation %s to finish",
			step.CarNo, step.Stage, step.ResrvNo, cur.ResrvNo)
	case Ignore:
		return nil
	}
	if err := move(Position{ResrvNo: step.ResrvNo, Stage: step.Stage}); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO car_lifecycle (car_no, resrv_no, stage) VALUES ($1, $2, $3)
		ON CONFLICT (car_no, resrv_no) DO UPDATE SET stage = excluded.stage`, step.CarNo, step.ResrvNo, step.Stage)
	if err != nil {
		return fmt.Errorf("car %q: record lifecycle of %q: %w", step.CarNo, step.ResrvNo, err)
	}
	return nil
}
