package management

import (
	"context"
	"errors"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/value"
)

// Service is the fleet's use cases.
type Service interface {
	// Register adds a car; registering the same car again with the same
	// fields is a replay and returns it with created=false.
	Register(ctx context.Context, r RegisterRequest) (car Car, created bool, err error)
	Get(ctx context.Context, carNo string) (Car, error)
	List(ctx context.Context, p value.Page) (value.List[Car], error)
	ChangeAmount(ctx context.Context, carNo string, amt value.Amount) (Car, error)
	Remove(ctx context.Context, carNo string) error
	// Quote prices a rental of the car (CPU-heavy by design).
	Quote(ctx context.Context, q QuoteRequest) (Quote, error)
}

// RegisterRequest is the write-up's POST /carManagements body.
type RegisterRequest struct {
	CarNo      string       `json:"carNo"`
	RentalAmt  value.Amount `json:"rentalAmt"`
	ProcStatus Status       `json:"procStatus"`
	CarRegDt   value.Date   `json:"carRegDt"`
}

// Validate checks a registration.
func (r RegisterRequest) Validate() error {
	if err := value.ValidateID("carNo", r.CarNo); err != nil {
		return err
	}
	if r.RentalAmt == 0 {
		return errs.E(errs.Invalid, "rentalAmt is required")
	}
	if r.CarRegDt == "" {
		return errs.E(errs.Invalid, "carRegDt is required (yyyyMMdd)")
	}
	if r.ProcStatus != "" && r.ProcStatus != Waiting {
		return errs.E(errs.Invalid, "procStatus %q: a new car is WAITING; its status changes only through reservations and rentals", r.ProcStatus)
	}
	return nil
}

type service struct {
	repo   Repository
	now    func() time.Time
	notify func() // wakes the outbox relay after a commit with events
}

// NewService returns the fleet service.
func NewService(repo Repository, now func() time.Time, notify func()) Service {
	return &service{repo: repo, now: now, notify: notify}
}

func (s *service) Register(ctx context.Context, r RegisterRequest) (Car, bool, error) {
	if err := auth.RequireStaff(ctx); err != nil {
		return Car{}, false, err
	}
	if err := r.Validate(); err != nil {
		return Car{}, false, err
	}
	car := Car{CarNo: r.CarNo, RentalAmt: r.RentalAmt, ProcStatus: Waiting, CarRegDt: r.CarRegDt, UpdatedAt: s.now().UTC()}
	evt, err := event.New(contract.Management, event.CarRegistered, car.CarNo, carPayload(car), s.now())
	if err != nil {
		return Car{}, false, err
	}
	err = s.repo.Create(ctx, car, evt)
	if errors.Is(err, ErrExists) {
		existing, getErr := s.repo.Get(ctx, r.CarNo)
		if getErr != nil {
			return Car{}, false, getErr
		}
		if existing.RentalAmt == r.RentalAmt && existing.CarRegDt == r.CarRegDt {
			return existing, false, nil
		}
		return Car{}, false, errs.E(errs.Conflict, "car %q is already registered with other values", r.CarNo)
	}
	if err != nil {
		return Car{}, false, err
	}
	s.notify()
	return car, true, nil
}

func (s *service) Get(ctx context.Context, carNo string) (Car, error) {
	// Reservation checks the car with its own identity before a booking.
	if err := auth.RequireStaff(ctx, contract.Reservation); err != nil {
		return Car{}, err
	}
	if err := value.ValidateID("carNo", carNo); err != nil {
		return Car{}, err
	}
	return s.repo.Get(ctx, carNo)
}

func (s *service) List(ctx context.Context, p value.Page) (value.List[Car], error) {
	if err := auth.RequireStaff(ctx); err != nil {
		return value.List[Car]{}, err
	}
	if err := p.Validate(); err != nil {
		return value.List[Car]{}, err
	}
	return s.repo.List(ctx, p)
}

func (s *service) ChangeAmount(ctx context.Context, carNo string, amt value.Amount) (Car, error) {
	if err := auth.RequireStaff(ctx); err != nil {
		return Car{}, err
	}
	if err := value.ValidateID("carNo", carNo); err != nil {
		return Car{}, err
	}
	if err := amt.Validate(); err != nil {
		return Car{}, err
	}
	car, err := s.repo.UpdateAmount(ctx, carNo, amt, s.now().UTC(), func(c Car) (event.Event, error) {
		return event.New(contract.Management, event.CarUpdated, c.CarNo, carPayload(c), s.now())
	})
	if err != nil {
		return Car{}, err
	}
	s.notify()
	return car, nil
}

func (s *service) Remove(ctx context.Context, carNo string) error {
	if err := auth.RequireStaff(ctx); err != nil {
		return err
	}
	if err := value.ValidateID("carNo", carNo); err != nil {
		return err
	}
	car, err := s.repo.Get(ctx, carNo)
	if err != nil {
		return err
	}
	if car.ProcStatus != Waiting {
		return errs.E(errs.Conflict, "car %q is %s; only a WAITING car can be removed", carNo, car.ProcStatus)
	}
	evt, err := event.New(contract.Management, event.CarDeleted, carNo, event.CarRef{CarNo: carNo}, s.now())
	if err != nil {
		return err
	}
	if err := s.repo.Delete(ctx, carNo, evt); err != nil {
		return err
	}
	s.notify()
	return nil
}

func carPayload(c Car) event.Car {
	return event.Car{CarNo: c.CarNo, RentalAmt: int64(c.RentalAmt), ProcStatus: string(c.ProcStatus), CarRegDt: string(c.CarRegDt)}
}

func (s *service) Quote(ctx context.Context, q QuoteRequest) (Quote, error) {
	if err := q.Validate(); err != nil {
		return Quote{}, err
	}
	car, err := s.repo.Get(ctx, q.CarNo)
	if err != nil {
		return Quote{}, err
	}
	return PriceQuote(q, car.RentalAmt), nil
}
