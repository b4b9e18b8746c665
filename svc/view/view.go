// Package view is the read model (CQRS): one row per car with its current
// reservation, payment and rental, built only from the events the other
// services publish. It never calls them.
package view

import (
	"context"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// CarInformation is one row of GET /carInformations.
type CarInformation struct {
	CarNo         string `json:"carNo"`
	RentalAmt     int64  `json:"rentalAmt"`
	CarRegDt      string `json:"carRegDt"`
	CarStatus     string `json:"carStatus"`
	ResrvNo       string `json:"resrvNo,omitempty"`
	CustNo        string `json:"custNo,omitempty"`
	ResrvStatus   string `json:"resrvStatus,omitempty"`
	ResrvDt       string `json:"resrvDt,omitempty"`
	RentalDt      string `json:"rentalDt,omitempty"`
	ReturnDt      string `json:"returnDt,omitempty"`
	PaymtNo       string `json:"paymtNo,omitempty"`
	PaymentStatus string `json:"paymentStatus,omitempty"`
	RentalNo      string `json:"rentalNo,omitempty"`
	RentalStatus  string `json:"rentalStatus,omitempty"`
	Country       string `json:"country,omitempty"`
	Region        string `json:"region,omitempty"`
	UpdatedAt     string `json:"updatedAt"`
}

// Events are every event the view is built from.
var Events = []event.Type{
	event.CarRegistered, event.CarUpdated, event.CarDeleted,
	event.CarReserved, event.ReservationCanceled, event.CarRented, event.CarReturned,
	event.PaymentApproved, event.PaymentCanceled,
}

// Repository is the read model's storage. Apply folds one event into it,
// at most once per event; a lifecycle event that must wait for its
// predecessor is an error wrapping lifecycle.ErrWait.
type Repository interface {
	List(ctx context.Context, p value.Page) (value.List[CarInformation], error)
	Get(ctx context.Context, carNo string) (CarInformation, error)
	Apply(ctx context.Context, evt event.Event) error
}

// ErrNotFound is a car the view does not know (yet).
var ErrNotFound = errs.E(errs.NotFound, "no information on that car")
