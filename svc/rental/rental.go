// Package rental hands reserved cars over and takes them back. Each rental
// records the country and region active when it started — the write-up's
// ConfigMap rental-region, read from the environment and from files that
// Kubernetes updates in place.
package rental

import (
	"context"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// Status of a rental.
type Status string

const (
	Rented   Status = "RENTED"
	Returned Status = "RETURNED"
)

// Rental is one hand-over of a reserved car.
type Rental struct {
	RentalNo   string     `json:"rentalNo"`
	ResrvNo    string     `json:"resrvNo"`
	CarNo      string     `json:"carNo"`
	CustNo     string     `json:"custNo"`
	Country    string     `json:"country"`
	Region     string     `json:"region"`
	ProcStatus Status     `json:"procStatus"`
	RentedAt   time.Time  `json:"rentedAt"`
	ReturnedAt *time.Time `json:"returnedAt,omitempty"`
}

// RentRequest is the body of POST /carRentals.
type RentRequest struct {
	ResrvNo  string `json:"resrvNo"`
	RentalNo string `json:"rentalNo,omitempty"` // default: derived from resrvNo
}

// Repository keeps rentals with their events in the same transactions.
type Repository interface {
	// Create stores a rental; ErrExists when its rentalNo or resrvNo is taken.
	Create(ctx context.Context, r Rental, evt event.Event) error
	Get(ctx context.Context, rentalNo string) (Rental, error)
	ByReservation(ctx context.Context, resrvNo string) (Rental, error)
	// List pages through the rentals of custNo ("" for everyone's).
	List(ctx context.Context, custNo string, p value.Page) (value.List[Rental], error)
	// MarkReturned moves RENTED to RETURNED with evt; false if it was not RENTED.
	MarkReturned(ctx context.Context, rentalNo string, at time.Time, evt event.Event) (bool, error)
}

// Errors.
var (
	ErrNotFound = errs.E(errs.NotFound, "rental not found")
	ErrExists   = errs.E(errs.Conflict, "rental already exists")
)

// Booking is what rental learns of a reservation when it moves it.
type Booking struct {
	ResrvNo    string `json:"resrvNo"`
	CarNo      string `json:"carNo"`
	CustNo     string `json:"custNo"`
	ProcStatus string `json:"procStatus"`
}

// Reservations moves reservations through reservation's internal
// compare-and-set calls; both are idempotent.
type Reservations interface {
	// Get reads the reservation as the user (their token): another
	// customer's answers 404.
	Get(ctx context.Context, resrvNo string) (Booking, error)
	// MarkRented and MarkReturned are rental's own calls (its identity).
	MarkRented(ctx context.Context, resrvNo string) (Booking, error)
	MarkReturned(ctx context.Context, resrvNo string) (Booking, error)
}
