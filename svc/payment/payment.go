// Package payment approves and cancels payments for reservations. Every
// approval is idempotent: the same key, paymtNo or resrvNo never charges
// twice, however often a client or a retrying proxy repeats the call.
package payment

import (
	"context"
	"time"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// Status of a payment. Payment owns the words; they live in the shared
// vocabulary because reservation and view read them too.
type Status = value.PaymentStatus

const (
	Approved = value.PaymentApproved
	Canceled = value.PaymentCanceled
)

// Payment is one charge for one reservation.
type Payment struct {
	PaymtNo   string       `json:"paymtNo"`
	ResrvNo   string       `json:"resrvNo"`
	CarNo     string       `json:"carNo"`
	CustNo    string       `json:"custNo"`
	Amount    value.Amount `json:"amount"`
	Status    Status       `json:"status"`
	Key       string       `json:"idempotencyKey"`
	CreatedAt time.Time    `json:"createdAt"`
	UpdatedAt time.Time    `json:"updatedAt"`
}

// ApproveRequest is the body of POST /payments.
type ApproveRequest struct {
	PaymtNo string       `json:"paymtNo"`
	ResrvNo string       `json:"resrvNo"`
	CarNo   string       `json:"carNo"`
	CustNo  string       `json:"custNo"`
	Amount  value.Amount `json:"amount"`
	// Key is the Idempotency-Key header (default: ResrvNo).
	Key string `json:"-"`
}

// Validate checks an approval request.
func (r ApproveRequest) Validate() error {
	for _, f := range []struct{ name, v string }{{"paymtNo", r.PaymtNo}, {"resrvNo", r.ResrvNo}, {"carNo", r.CarNo}, {"custNo", r.CustNo}} {
		if err := value.ValidateID(f.name, f.v); err != nil {
			return err
		}
	}
	if r.Amount == 0 {
		return errs.E(errs.Invalid, "amount is required")
	}
	if len(r.Key) > 128 {
		return errs.E(errs.Invalid, "Idempotency-Key is longer than 128 characters")
	}
	return nil
}

// sameCharge reports whether p is what r asks for: a replay, not a clash.
func (p Payment) sameCharge(r ApproveRequest) bool {
	return p.PaymtNo == r.PaymtNo && p.ResrvNo == r.ResrvNo && p.CarNo == r.CarNo && p.CustNo == r.CustNo && p.Amount == r.Amount
}

// Repository keeps payments; writes store their event in the same
// transaction.
type Repository interface {
	// Create stores an approved payment; ErrDuplicate when its paymtNo,
	// resrvNo or key is taken.
	Create(ctx context.Context, p Payment, evt event.Event) error
	// Find returns a payment whose paymtNo, resrvNo or key matches.
	Find(ctx context.Context, paymtNo, resrvNo, key string) (Payment, error)
	Get(ctx context.Context, paymtNo string) (Payment, error)
	// List pages through the payments of resrvNo and custNo (each "" for any).
	List(ctx context.Context, resrvNo, custNo string, p value.Page) (value.List[Payment], error)
	// Cancel moves an APPROVED payment to CANCELED with evt; it reports
	// false when the payment was not APPROVED.
	Cancel(ctx context.Context, paymtNo string, at time.Time, evt event.Event) (bool, error)
}

// Errors.
var (
	ErrNotFound  = errs.E(errs.NotFound, "payment not found")
	ErrDuplicate = errs.E(errs.Conflict, "payment already exists")
)
