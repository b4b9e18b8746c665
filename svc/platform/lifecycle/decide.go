// Package lifecycle is a car's life as the events tell it: a sequence of
// reservations, each going through stages (reserved, rented, finished).
// Management (the fleet) and view (the read model) both follow it; the
// decision of what an event does to a car is written here once.
//
// Events of one reservation come from different services (reservation,
// rental), so they can arrive out of order: consumers compare stages
// instead of trusting arrival order.
package lifecycle

import (
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// Stage is how far a reservation has gone. It is stored as an integer.
type Stage int

const (
	StageNone     Stage = 0
	StageReserved Stage = 1 // CarReserved
	StageRented   Stage = 2 // CarRented
	StageFinished Stage = 3 // CarReturned or ReservationCanceled
)

// StageOf is the stage an event moves its reservation to, or StageNone for
// events outside the lifecycle.
func StageOf(t event.Type) Stage {
	switch t {
	case event.CarReserved:
		return StageReserved
	case event.CarRented:
		return StageRented
	case event.CarReturned, event.ReservationCanceled:
		return StageFinished
	}
	return StageNone
}

// Events are the event types that move a car along its lifecycle.
var Events = []event.Type{event.CarReserved, event.ReservationCanceled, event.CarRented, event.CarReturned}

// CarStatus is the car status a stage means.
func (s Stage) CarStatus() value.CarStatus {
	switch s {
	case StageReserved:
		return value.CarReserved
	case StageRented:
		return value.CarRented
	}
	return value.CarWaiting
}

// Position is where a car stands: the reservation its status belongs to
// and that reservation's stage. The zero Position is a car never reserved.
type Position struct {
	ResrvNo string
	Stage   Stage
}

// Decision is what a consumer does with a lifecycle event.
type Decision int

const (
	Apply  Decision = iota // move the car to the event's stage
	Ignore                 // a duplicate or a stale event: nothing to do
	Wait                   // the car's current reservation has not finished yet: redeliver later
)

// Decide places an event of reservation resrvNo at stage against a car at
// cur. known is the stage already recorded for resrvNo on this car
// (StageNone if never seen).
//
// A new reservation of a car can only exist after the previous one
// finished, but its CarReserved may overtake the previous CarReturned
// (they come from different services). Such an event waits for its
// predecessor instead of being dropped.
func Decide(cur Position, resrvNo string, known, stage Stage) Decision {
	switch {
	case stage == StageNone || stage <= known:
		return Ignore
	case resrvNo == cur.ResrvNo || cur.ResrvNo == "" || cur.Stage >= StageFinished:
		return Apply
	default:
		return Wait
	}
}
