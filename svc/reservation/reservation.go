// Package reservation books cars: it checks the car with management,
// claims it, charges payment synchronously and confirms the reservation
// only when payment approved. It also owns the reservation's lifecycle
// (rented, returned, canceled), which rental moves through compare-and-set
// calls.
package reservation

import (
	"context"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// Status of a reservation.
type Status string

const (
	// Pending holds the car while payment is being charged.
	Pending  Status = "PENDING"
	Reserved Status = "RESERVED"
	Rented   Status = "RENTED"
	Returned Status = "RETURNED"
	Canceled Status = "CANCELED"
)

// Active statuses hold the car; at most one reservation per car is active.
var Active = []Status{Pending, Reserved, Rented}

// Reservation uses the write-up's field names.
type Reservation struct {
	ResrvNo    string       `json:"resrvNo"`
	CarNo      string       `json:"carNo"`
	CustNo     string       `json:"custNo"`
	PaymtNo    string       `json:"paymtNo"`
	ProcStatus Status       `json:"procStatus"`
	RentalAmt  value.Amount `json:"rentalAmt"`
	ResrvDt    value.Date   `json:"resrvDt"`
	RentalDt   value.Date   `json:"rentalDt"`
	ReturnDt   value.Date   `json:"returnDt"`
	UpdatedAt  time.Time    `json:"updatedAt"`
}

// ReserveRequest is the write-up's POST /carReservations body.
type ReserveRequest struct {
	CarNo      string       `json:"carNo"`
	CustNo     string       `json:"custNo"`
	PaymtNo    string       `json:"paymtNo"`
	ProcStatus Status       `json:"procStatus"`
	RentalAmt  value.Amount `json:"rentalAmt"`
	ResrvNo    string       `json:"resrvNo"`
	ResrvDt    value.Date   `json:"resrvDt"`
	RentalDt   value.Date   `json:"rentalDt"`
	ReturnDt   value.Date   `json:"returnDt"`
}

// Validate checks a reservation request.
func (r ReserveRequest) Validate() error {
	for _, f := range []struct{ name, v string }{{"resrvNo", r.ResrvNo}, {"carNo", r.CarNo}, {"custNo", r.CustNo}, {"paymtNo", r.PaymtNo}} {
		if err := value.ValidateID(f.name, f.v); err != nil {
			return err
		}
	}
	if r.RentalAmt == 0 {
		return errs.E(errs.Invalid, "rentalAmt is required")
	}
	for _, d := range []struct {
		name string
		v    value.Date
	}{{"resrvDt", r.ResrvDt}, {"rentalDt", r.RentalDt}, {"returnDt", r.ReturnDt}} {
		if d.v == "" {
			return errs.E(errs.Invalid, "%s is required (yyyyMMdd)", d.name)
		}
	}
	if r.RentalDt.Before(r.ResrvDt) {
		return errs.E(errs.Invalid, "rentalDt %s is before resrvDt %s", r.RentalDt, r.ResrvDt)
	}
	if r.ReturnDt.Before(r.RentalDt) {
		return errs.E(errs.Invalid, "returnDt %s is before rentalDt %s", r.ReturnDt, r.RentalDt)
	}
	if r.ProcStatus != "" && r.ProcStatus != Reserved {
		return errs.E(errs.Invalid, "procStatus %q: a new reservation is RESERVED", r.ProcStatus)
	}
	return nil
}

// matches reports whether an existing reservation is what r asks for, so
// posting it again is a replay rather than a clash.
func (r ReserveRequest) matches(x Reservation) bool {
	return x.ResrvNo == r.ResrvNo && x.CarNo == r.CarNo && x.CustNo == r.CustNo && x.PaymtNo == r.PaymtNo &&
		x.RentalAmt == r.RentalAmt && x.ResrvDt == r.ResrvDt && x.RentalDt == r.RentalDt && x.ReturnDt == r.ReturnDt
}

// Repository keeps reservations.
type Repository interface {
	// Claim stores a PENDING reservation. ErrExists when the resrvNo is
	// taken; ErrCarTaken when the car has an active reservation.
	Claim(ctx context.Context, r Reservation) error
	// Confirm moves PENDING to RESERVED with evt; false when a concurrent
	// request with the same resrvNo confirmed it first.
	Confirm(ctx context.Context, resrvNo string, at time.Time, evt event.Event) (bool, error)
	// Release deletes a PENDING reservation, freeing its car.
	Release(ctx context.Context, resrvNo string) error
	// Transition moves a reservation from one status to another (with evt
	// when not nil); false when it was not in from.
	Transition(ctx context.Context, resrvNo string, from, to Status, at time.Time, evt *event.Event) (bool, error)
	Get(ctx context.Context, resrvNo string) (Reservation, error)
	// List pages through the reservations of custNo ("" for everyone's).
	List(ctx context.Context, custNo string, p value.Page) (value.List[Reservation], error)
}

// Errors.
var (
	ErrNotFound = errs.E(errs.NotFound, "reservation not found")
	ErrExists   = errs.E(errs.Conflict, "reservation already exists")
	ErrCarTaken = errs.E(errs.Conflict, "the car already has an active reservation")
)

// Car is what reservation needs to know of a car.
type Car struct {
	CarNo      string `json:"carNo"`
	ProcStatus string `json:"procStatus"`
}

// Cars looks cars up in management.
type Cars interface {
	Car(ctx context.Context, carNo string) (Car, error)
}

// Charge is a payment approval request.
type Charge struct {
	PaymtNo string       `json:"paymtNo"`
	ResrvNo string       `json:"resrvNo"`
	CarNo   string       `json:"carNo"`
	CustNo  string       `json:"custNo"`
	Amount  value.Amount `json:"amount"`
}

// PaymentResult is payment's answer.
type PaymentResult struct {
	PaymtNo string `json:"paymtNo"`
	Status  string `json:"status"`
}

// Payments charges and refunds through the payment service.
type Payments interface {
	// Approve charges once per resrvNo (sent as the Idempotency-Key).
	Approve(ctx context.Context, c Charge) (PaymentResult, error)
	Cancel(ctx context.Context, paymtNo string) error
}
