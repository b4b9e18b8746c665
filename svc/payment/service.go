package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// Service is the payment use cases.
type Service interface {
	Approve(ctx context.Context, r ApproveRequest) (p Payment, created bool, err error)
	Cancel(ctx context.Context, paymtNo string) (Payment, error)
	Get(ctx context.Context, paymtNo string) (Payment, error)
	List(ctx context.Context, resrvNo string, p value.Page) (value.List[Payment], error)
}

type service struct {
	repo   Repository
	now    func() time.Time
	notify func()
}

// NewService returns the payment service.
func NewService(repo Repository, now func() time.Time, notify func()) Service {
	return &service{repo: repo, now: now, notify: notify}
}

func (s *service) Approve(ctx context.Context, r ApproveRequest) (Payment, bool, error) {
	owner, err := auth.Owner(ctx)
	if err != nil {
		return Payment{}, false, err
	}
	if r.Key == "" {
		r.Key = r.ResrvNo
	}
	if err := r.Validate(); err != nil {
		return Payment{}, false, err
	}
	// The charge is the user's act (reservation forwards their token): a
	// customer pays for themselves only.
	if owner != "" && r.CustNo != owner {
		return Payment{}, false, errs.E(errs.Forbidden, "a customer pays for themselves only: custNo must be %q", owner)
	}
	now := s.now().UTC()
	p := Payment{PaymtNo: r.PaymtNo, ResrvNo: r.ResrvNo, CarNo: r.CarNo, CustNo: r.CustNo, Amount: r.Amount,
		Status: Approved, Key: r.Key, CreatedAt: now, UpdatedAt: now}
	evt, err := event.New(contract.Payment, event.PaymentApproved, p.ResrvNo, payload(p), now)
	if err != nil {
		return Payment{}, false, err
	}
	err = s.repo.Create(ctx, p, evt)
	if errors.Is(err, ErrDuplicate) {
		if existing, findErr := s.repo.Find(ctx, r.PaymtNo, r.ResrvNo, r.Key); findErr == nil && !auth.MaySee(ctx, existing.CustNo) {
			return Payment{}, false, errs.E(errs.Conflict, "payment %s is taken; choose another paymtNo", r.PaymtNo)
		}
	}
	if errors.Is(err, ErrDuplicate) {
		// The unique keys decided under concurrency; now tell a replay
		// from a clash.
		existing, findErr := s.repo.Find(ctx, r.PaymtNo, r.ResrvNo, r.Key)
		if findErr != nil {
			return Payment{}, false, findErr
		}
		if existing.sameCharge(r) {
			return existing, false, nil
		}
		return Payment{}, false, errs.E(errs.Conflict,
			"payment %s for reservation %s already exists with other values; one reservation is charged once", existing.PaymtNo, existing.ResrvNo)
	}
	if err != nil {
		return Payment{}, false, err
	}
	s.notify()
	return p, true, nil
}

func (s *service) Cancel(ctx context.Context, paymtNo string) (Payment, error) {
	if err := value.ValidateID("paymtNo", paymtNo); err != nil {
		return Payment{}, err
	}
	p, err := s.Get(ctx, paymtNo)
	if err != nil {
		return Payment{}, err
	}
	if p.Status == Canceled {
		return p, nil // cancelling twice is a replay
	}
	now := s.now().UTC()
	p.Status, p.UpdatedAt = Canceled, now
	evt, err := event.New(contract.Payment, event.PaymentCanceled, p.ResrvNo, payload(p), now)
	if err != nil {
		return Payment{}, err
	}
	changed, err := s.repo.Cancel(ctx, paymtNo, now, evt)
	if err != nil {
		return Payment{}, err
	}
	if changed {
		s.notify()
	}
	return s.repo.Get(ctx, paymtNo)
}

// Get answers another customer's payment exactly like a missing one.
func (s *service) Get(ctx context.Context, paymtNo string) (Payment, error) {
	if _, err := auth.Owner(ctx); err != nil {
		return Payment{}, err
	}
	if err := value.ValidateID("paymtNo", paymtNo); err != nil {
		return Payment{}, err
	}
	p, err := s.repo.Get(ctx, paymtNo)
	if err != nil {
		return Payment{}, err
	}
	if !auth.MaySee(ctx, p.CustNo) {
		return Payment{}, fmt.Errorf("payment %q: %w", paymtNo, ErrNotFound)
	}
	return p, nil
}

func (s *service) List(ctx context.Context, resrvNo string, p value.Page) (value.List[Payment], error) {
	owner, err := auth.Owner(ctx)
	if err != nil {
		return value.List[Payment]{}, err
	}
	if resrvNo != "" {
		if err := value.ValidateID("resrvNo", resrvNo); err != nil {
			return value.List[Payment]{}, err
		}
	}
	if err := p.Validate(); err != nil {
		return value.List[Payment]{}, err
	}
	return s.repo.List(ctx, resrvNo, owner, p)
}

func payload(p Payment) event.Payment {
	return event.Payment{PaymtNo: p.PaymtNo, ResrvNo: p.ResrvNo, CarNo: p.CarNo, CustNo: p.CustNo, Amount: int64(p.Amount), Status: string(p.Status)}
}
