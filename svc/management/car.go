// Package management is the fleet: cars, their rental amount and their
// status. Clients register cars and change their amount; a car's status
// (WAITING, RESERVED, RENTED) changes only through the reservation and
// rental events.
package management

import (
	"context"
	"regexp"
	"time"

	"github.com/carrental/carrental/svc/errs"
	"github.com/carrental/carrental/svc/event"
	"github.com/carrental/carrental/svc/value"
)

// Status is a car's availability.
type Status string

const (
	Waiting  Status = "WAITING" // available
	Reserved Status = "RESERVED"
	Rented   Status = "RENTED"
)

// Car is one car of the fleet, with the write-up's field names.
type Car struct {
	CarNo      string       `json:"carNo"`
	RentalAmt  value.Amount `json:"rentalAmt"`
	ProcStatus Status       `json:"procStatus"`
	CarRegDt   value.Date   `json:"carRegDt"`
	// ResrvNo is the reservation the status belongs to, if any.
	ResrvNo string `json:"resrvNo,omitempty"`
	// Stage is that reservation's lifecycle stage (see event.Decide).
	Stage     int       `json:"-"`
	UpdatedAt time.Time `json:"updatedAt"`
}

var carNoPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateCarNo checks a car number: 1 to 64 letters, digits, - or _.
func ValidateCarNo(carNo string) error {
	if carNo == "" {
		return errs.E(errs.Invalid, "carNo is required")
	}
	if !carNoPattern.MatchString(carNo) {
		return errs.E(errs.Invalid, "carNo %q must be 1 to 64 letters, digits, - or _", carNo)
	}
	return nil
}

// StatusOfStage is the car status a lifecycle stage means.
func StatusOfStage(stage int) Status {
	switch stage {
	case event.StageReserved:
		return Reserved
	case event.StageRented:
		return Rented
	}
	return Waiting
}

// Repository keeps cars. Every write that has an event stores it in the
// same transaction (transactional outbox).
type Repository interface {
	Create(ctx context.Context, car Car, evt event.Event) error
	Get(ctx context.Context, carNo string) (Car, error)
	List(ctx context.Context) ([]Car, error)
	UpdateAmount(ctx context.Context, carNo string, amt value.Amount, at time.Time, evt func(Car) (event.Event, error)) (Car, error)
	Delete(ctx context.Context, carNo string, evt event.Event) error
	// ApplyLifecycle moves a car along a reservation's lifecycle for evt,
	// at most once per event.
	ApplyLifecycle(ctx context.Context, evt event.Event, carNo, resrvNo string, stage int) (event.Decision, error)
}

// Errors the repository reports.
var (
	ErrNotFound = errs.E(errs.NotFound, "car not found")
	ErrExists   = errs.E(errs.Conflict, "car already registered")
)
