package management

import (
	"context"

	"github.com/carrental/carrental/svc/errs"
	"github.com/carrental/carrental/svc/event"
)

// LifecycleEvents are the events that move a car's status.
var LifecycleEvents = []event.Type{event.CarReserved, event.ReservationCanceled, event.CarRented, event.CarReturned}

// EventHandler applies reservation and rental events to the fleet.
type EventHandler struct{ Repo Repository }

// Handle applies one event. An event that must wait for its predecessor
// returns an error so JetStream redelivers it later.
func (h EventHandler) Handle(ctx context.Context, evt event.Event) error {
	carNo, resrvNo, err := lifecycleKeys(evt)
	if err != nil {
		return err
	}
	decision, err := h.Repo.ApplyLifecycle(ctx, evt, carNo, resrvNo, event.StageOf(evt.Type))
	if err != nil {
		return err
	}
	if decision == event.Wait {
		return errs.E(errs.Conflict, "car %s: %s of %s waits for the current reservation to finish", carNo, evt.Type, resrvNo)
	}
	return nil
}

// lifecycleKeys reads the car and reservation an event is about.
func lifecycleKeys(evt event.Event) (carNo, resrvNo string, err error) {
	switch evt.Type {
	case event.CarReserved, event.ReservationCanceled:
		var p event.Reservation
		err = evt.Decode(&p)
		return p.CarNo, p.ResrvNo, err
	case event.CarRented, event.CarReturned:
		var p event.Rental
		err = evt.Decode(&p)
		return p.CarNo, p.ResrvNo, err
	}
	return "", "", errs.E(errs.Invalid, "event %s is not a lifecycle event", evt.Type)
}
