package reservation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// Service is the reservation use cases.
type Service interface {
	Reserve(ctx context.Context, r ReserveRequest) (res Reservation, created bool, err error)
	Get(ctx context.Context, resrvNo string) (Reservation, error)
	List(ctx context.Context, p value.Page) (value.List[Reservation], error)
	Cancel(ctx context.Context, resrvNo string) (Reservation, error)
	// MarkRented and MarkReturned are rental's compare-and-set calls.
	MarkRented(ctx context.Context, resrvNo string) (Reservation, error)
	MarkReturned(ctx context.Context, resrvNo string) (Reservation, error)
}

type service struct {
	repo     Repository
	cars     Cars
	payments Payments
	now      func() time.Time
	notify   func()
	log      *slog.Logger
}

// NewService returns the reservation service.
func NewService(repo Repository, cars Cars, payments Payments, now func() time.Time, notify func(), log *slog.Logger) Service {
	return &service{repo: repo, cars: cars, payments: payments, now: now, notify: notify, log: log}
}

func (s *service) Reserve(ctx context.Context, r ReserveRequest) (Reservation, bool, error) {
	owner, err := auth.Owner(ctx)
	if err != nil {
		return Reservation{}, false, err
	}
	if err := r.Validate(); err != nil {
		return Reservation{}, false, err
	}
	if owner != "" && r.CustNo != owner {
		return Reservation{}, false, errs.E(errs.Forbidden, "a customer reserves for themselves only: custNo must be %q", owner)
	}
	// A new reservation is the common case: claim first, and read what is
	// stored only when the claim says the resrvNo (or, for a replay, its car)
	// is taken.
	err = s.claim(ctx, r)
	if err == nil {
		return s.charge(ctx, r)
	}
	existing, getErr := s.repo.Get(ctx, r.ResrvNo)
	switch {
	case errors.Is(getErr, ErrNotFound) && errors.Is(err, ErrExists):
		// Released between the claim and the read (its payment was
		// refused): the resrvNo is free again.
		return s.Reserve(ctx, r)
	case errors.Is(getErr, ErrNotFound):
		return Reservation{}, false, err
	case getErr != nil:
		return Reservation{}, false, getErr
	case !auth.MaySee(ctx, existing.CustNo):
		// Another customer's: a clash, without saying whose or with what.
		return Reservation{}, false, errs.E(errs.Conflict, "reservation %s is taken; choose another resrvNo", r.ResrvNo)
	case !r.matches(existing):
		return Reservation{}, false, errs.E(errs.Conflict, "reservation %s exists with other values", r.ResrvNo)
	case existing.ProcStatus != Pending:
		// A replay. Its car may look taken (by this very reservation) or be
		// gone since: the stored reservation answers, not the claim.
		return existing, false, nil
	}
	// A PENDING reservation is an earlier attempt cut short (a crash,
	// payment unreachable) or a concurrent twin still charging: resume it.
	// Payment is idempotent per resrvNo, so this never charges twice.
	return s.charge(ctx, r)
}

// claim checks the car with management and holds it with a PENDING row;
// the database's one-active-reservation-per-car index decides races.
func (s *service) claim(ctx context.Context, r ReserveRequest) error {
	car, err := s.cars.Car(ctx, r.CarNo)
	if err != nil {
		return err
	}
	if car.ProcStatus != string(value.CarWaiting) {
		return errs.E(errs.Conflict, "car %s is %s, not available", r.CarNo, car.ProcStatus)
	}
	err = s.repo.Claim(ctx, Reservation{ResrvNo: r.ResrvNo, CarNo: r.CarNo, CustNo: r.CustNo, PaymtNo: r.PaymtNo,
		ProcStatus: Pending, RentalAmt: r.RentalAmt, ResrvDt: r.ResrvDt, RentalDt: r.RentalDt, ReturnDt: r.ReturnDt, UpdatedAt: s.now().UTC()})
	if errors.Is(err, ErrCarTaken) {
		return errs.E(errs.Conflict, "car %s is already reserved", r.CarNo)
	}
	return err
}

// charge asks payment to approve and confirms or undoes the claim. Of
// concurrent requests for one resrvNo, only the one whose confirmation
// moved it from PENDING reports it created; the others are replays.
func (s *service) charge(ctx context.Context, r ReserveRequest) (Reservation, bool, error) {
	result, err := s.payments.Approve(ctx, Charge{PaymtNo: r.PaymtNo, ResrvNo: r.ResrvNo, CarNo: r.CarNo, CustNo: r.CustNo, Amount: r.RentalAmt})
	if err != nil {
		return Reservation{}, false, s.undo(ctx, r, err)
	}
	if result.Status != string(value.PaymentApproved) {
		// An earlier attempt was refunded; its paymtNo cannot be reused.
		if relErr := s.repo.Release(ctx, r.ResrvNo); relErr != nil {
			return Reservation{}, false, relErr
		}
		return Reservation{}, false, errs.E(errs.Conflict, "payment %s is %s; reserve again with a new paymtNo", r.PaymtNo, result.Status)
	}
	now := s.now().UTC()
	evt, err := event.New(contract.Reservation, event.CarReserved, r.CarNo, event.Reservation{
		ResrvNo: r.ResrvNo, CarNo: r.CarNo, CustNo: r.CustNo, PaymtNo: r.PaymtNo, RentalAmt: int64(r.RentalAmt),
		ResrvDt: string(r.ResrvDt), RentalDt: string(r.RentalDt), ReturnDt: string(r.ReturnDt)}, now)
	if err != nil {
		return Reservation{}, false, err
	}
	confirmed, err := s.repo.Confirm(ctx, r.ResrvNo, now, evt)
	if err != nil {
		return Reservation{}, false, err
	}
	if !confirmed {
		// A concurrent request for this resrvNo confirmed it first.
		res, err := s.repo.Get(ctx, r.ResrvNo)
		return res, false, err
	}
	s.notify()
	// What was just committed; no need to read it back.
	return Reservation{ResrvNo: r.ResrvNo, CarNo: r.CarNo, CustNo: r.CustNo, PaymtNo: r.PaymtNo, ProcStatus: Reserved,
		RentalAmt: r.RentalAmt, ResrvDt: r.ResrvDt, RentalDt: r.RentalDt, ReturnDt: r.ReturnDt, UpdatedAt: now}, true, nil
}

// undo handles a failed charge. A refusal (4xx) frees the car. When payment
// could not answer we do not know whether it charged: refund (idempotent)
// and free the car; if the refund cannot be made either, keep the claim
// PENDING so a retry with the same resrvNo resumes instead of charging a
// second reservation.
func (s *service) undo(ctx context.Context, r ReserveRequest, chargeErr error) error {
	switch errs.CodeOf(chargeErr) {
	case errs.Unavailable, errs.Timeout, errs.Internal:
	default:
		if err := s.repo.Release(ctx, r.ResrvNo); err != nil {
			return err
		}
		return chargeErr
	}
	if err := s.payments.Cancel(ctx, r.PaymtNo); err != nil && !errs.Is(err, errs.NotFound) {
		s.log.Warn("payment unreachable and refund failed; reservation left PENDING for a retry", "resrvNo", r.ResrvNo, "err", err)
		return errs.Wrap(errs.Unavailable, chargeErr, "payment is unavailable; reservation %s is pending: retry with the same resrvNo", r.ResrvNo)
	}
	if err := s.repo.Release(ctx, r.ResrvNo); err != nil {
		return err
	}
	return errs.Wrap(errs.Unavailable, chargeErr, "payment is unavailable; nothing was charged, try again")
}

// Get answers another customer's reservation exactly like a missing one.
func (s *service) Get(ctx context.Context, resrvNo string) (Reservation, error) {
	if _, err := auth.Owner(ctx); err != nil {
		return Reservation{}, err
	}
	res, err := s.load(ctx, resrvNo)
	if err != nil {
		return Reservation{}, err
	}
	if !auth.MaySee(ctx, res.CustNo) {
		return Reservation{}, fmt.Errorf("reservation %q: %w", resrvNo, ErrNotFound)
	}
	return res, nil
}

// load reads a reservation whoever asks (the caller has checked).
func (s *service) load(ctx context.Context, resrvNo string) (Reservation, error) {
	if err := value.ValidateID("resrvNo", resrvNo); err != nil {
		return Reservation{}, err
	}
	return s.repo.Get(ctx, resrvNo)
}

func (s *service) List(ctx context.Context, p value.Page) (value.List[Reservation], error) {
	owner, err := auth.Owner(ctx)
	if err != nil {
		return value.List[Reservation]{}, err
	}
	if err := p.Validate(); err != nil {
		return value.List[Reservation]{}, err
	}
	return s.repo.List(ctx, owner, p)
}

func (s *service) Cancel(ctx context.Context, resrvNo string) (Reservation, error) {
	res, err := s.Get(ctx, resrvNo)
	if err != nil {
		return res, err
	}
	switch res.ProcStatus {
	case Canceled:
		return res, nil // a replay
	case Reserved:
	default:
		return Reservation{}, errs.E(errs.Conflict, "reservation %s is %s; only a RESERVED reservation can be canceled", resrvNo, res.ProcStatus)
	}
	// Refund first: a refund that fails leaves the reservation as it was.
	if err := s.payments.Cancel(ctx, res.PaymtNo); err != nil && !errs.Is(err, errs.NotFound) {
		return Reservation{}, err
	}
	now := s.now().UTC()
	evt, err := event.New(contract.Reservation, event.ReservationCanceled, res.CarNo, event.Reservation{
		ResrvNo: res.ResrvNo, CarNo: res.CarNo, CustNo: res.CustNo, PaymtNo: res.PaymtNo, RentalAmt: int64(res.RentalAmt),
		ResrvDt: string(res.ResrvDt), RentalDt: string(res.RentalDt), ReturnDt: string(res.ReturnDt)}, now)
	if err != nil {
		return Reservation{}, err
	}
	ok, err := s.repo.Transition(ctx, resrvNo, Reserved, Canceled, now, &evt)
	if err != nil {
		return Reservation{}, err
	}
	if !ok {
		return s.Cancel(ctx, resrvNo) // it moved meanwhile: decide again
	}
	s.notify()
	return s.repo.Get(ctx, resrvNo)
}

func (s *service) MarkRented(ctx context.Context, resrvNo string) (Reservation, error) {
	return s.move(ctx, resrvNo, Reserved, Rented)
}

func (s *service) MarkReturned(ctx context.Context, resrvNo string) (Reservation, error) {
	return s.move(ctx, resrvNo, Rented, Returned)
}

// move is an idempotent compare-and-set: already in `to` is a replay.
func (s *service) move(ctx context.Context, resrvNo string, from, to Status) (Reservation, error) {
	// Only rental moves a reservation along, with its own identity, after
	// it has read the reservation with the user's (another's is 404 there).
	if err := auth.RequireService(ctx, contract.Rental); err != nil {
		return Reservation{}, err
	}
	res, err := s.load(ctx, resrvNo)
	if err != nil {
		return res, err
	}
	if res.ProcStatus == to {
		return res, nil
	}
	ok, err := s.repo.Transition(ctx, resrvNo, from, to, s.now().UTC(), nil)
	if err != nil {
		return Reservation{}, err
	}
	if !ok {
		return Reservation{}, errs.E(errs.Conflict, "reservation %s is %s, not %s", resrvNo, res.ProcStatus, from)
	}
	return s.repo.Get(ctx, resrvNo)
}
