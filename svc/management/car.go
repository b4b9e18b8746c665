// Package management is the fleet: cars, their rental amount and their
// status. Clients register cars and change their amount; a car's status
// (WAITING, RESERVED, RENTED) changes only through the reservation and
// rental events.
package management

import (
	"context"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/lifecycle"
	"github.com/carrental/carrental/svc/platform/value"
)

// Status is a car's availability. Management owns the words; they live in
// the shared vocabulary because reservation and view read them too.
type Status = value.CarStatus

const (
	Waiting  = value.CarWaiting // available
	Reserved = value.CarReserved
	Rented   = value.CarRented
)

// Car is one car of the fleet, with the write-up's field names.
type Car struct {
	CarNo      string       `json:"carNo"`
	RentalAmt  value.Amount `json:"rentalAmt"`
	ProcStatus Status       `json:"procStatus"`
	CarRegDt   value.Date   `json:"carRegDt"`
	// ResrvNo is the reservation the status belongs to, if any.
	ResrvNo string `json:"resrvNo,omitempty"`
	// Stage is that reservation's lifecycle stage (see lifecycle.Decide).
	Stage     lifecycle.Stage `json:"-"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// Repository keeps cars. Every write that has an event stores it in the
// same transaction (transactional outbox).
type Repository interface {
	Create(ctx context.Context, car Car, evt event.Event) error
	Get(ctx context.Context, carNo string) (Car, error)
	List(ctx context.Context, p value.Page) (value.List[Car], error)
	UpdateAmount(ctx context.Context, carNo string, amt value.Amount, at time.Time, evt func(Car) (event.Event, error)) (Car, error)
	Delete(ctx context.Context, carNo string, evt event.Event) error
	// ApplyLifecycle moves a car along a reservation's lifecycle for evt,
	// at most once per event; an event that overtook its predecessor is an
	// error wrapping lifecycle.ErrWait.
	ApplyLifecycle(ctx context.Context, evt event.Event, step lifecycle.Step) error
}

// Errors the repository reports.
var (
	ErrNotFound = errs.E(errs.NotFound, "car not found")
	ErrExists   = errs.E(errs.Conflict, "car already registered")
)
