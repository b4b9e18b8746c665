package rental

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

// Service is the rental use cases.
type Service interface {
	Rent(ctx context.Context, r RentRequest) (rental Rental, created bool, err error)
	Return(ctx context.Context, rentalNo string) (Rental, error)
	Get(ctx context.Context, rentalNo string) (Rental, error)
	List(ctx context.Context, p value.Page) (value.List[Rental], error)
	Config() Region
}

type service struct {
	repo         Repository
	reservations Reservations
	region       *RegionConfig
	now          func() time.Time
	notify       func()
}

// NewService returns the rental service.
func NewService(repo Repository, reservations Reservations, region *RegionConfig, now func() time.Time, notify func()) Service {
	return &service{repo: repo, reservations: reservations, region: region, now: now, notify: notify}
}

// Validate checks a rent request and fills in the default rentalNo.
func (r *RentRequest) Validate() error {
	if err := value.ValidateID("resrvNo", r.ResrvNo); err != nil {
		return err
	}
	if r.RentalNo == "" {
		r.RentalNo = "rental-" + r.ResrvNo
	}
	return value.ValidateID("rentalNo", r.RentalNo)
}

func (s *service) Rent(ctx context.Context, r RentRequest) (Rental, bool, error) {
	if _, err := auth.Owner(ctx); err != nil {
		return Rental{}, false, err
	}
	if err := r.Validate(); err != nil {
		return Rental{}, false, err
	}
	// Reservation says whether the reservation is the user's: another
	// customer's is 404 there, and so here.
	if _, err := s.reservations.Get(ctx, r.ResrvNo); err != nil {
		return Rental{}, false, err
	}
	if existing, err := s.repo.ByReservation(ctx, r.ResrvNo); err == nil {
		if existing.RentalNo != r.RentalNo {
			return Rental{}, false, errs.E(errs.Conflict, "reservation %s is already rented as %s", r.ResrvNo, existing.RentalNo)
		}
		return existing, false, nil // a replay
	} else if !errors.Is(err, ErrNotFound) {
		return Rental{}, false, err
	}
	// Reservation decides: only a RESERVED (or already RENTED, on a retry)
	// reservation moves to RENTED.
	booking, err := s.reservations.MarkRented(ctx, r.ResrvNo)
	if err != nil {
		return Rental{}, false, err
	}
	region := s.region.Active()
	now := s.now().UTC()
	rental := Rental{RentalNo: r.RentalNo, ResrvNo: r.ResrvNo, CarNo: booking.CarNo, CustNo: booking.CustNo,
		Country: region.Country.Value, Region: region.Region.Value, ProcStatus: Rented, RentedAt: now}
	evt, err := event.New(contract.Rental, event.CarRented, rental.CarNo, payload(rental), now)
	if err != nil {
		return Rental{}, false, err
	}
	if err := s.repo.Create(ctx, rental, evt); err != nil {
		if errors.Is(err, ErrExists) {
			return s.Rent(ctx, r) // a concurrent replay won: answer like it
		}
		return Rental{}, false, err
	}
	s.notify()
	return rental, true, nil
}

func (s *service) Return(ctx context.Context, rentalNo string) (Rental, error) {
	rental, err := s.Get(ctx, rentalNo)
	if err != nil {
		return Rental{}, err
	}
	if rental.ProcStatus == Returned {
		return rental, nil
	}
	if _, err := s.reservations.MarkReturned(ctx, rental.ResrvNo); err != nil {
		return Rental{}, err
	}
	now := s.now().UTC()
	rental.ProcStatus, rental.ReturnedAt = Returned, &now
	evt, err := event.New(contract.Rental, event.CarReturned, rental.CarNo, payload(rental), now)
	if err != nil {
		return Rental{}, err
	}
	if _, err := s.repo.MarkReturned(ctx, rentalNo, now, evt); err != nil {
		return Rental{}, err
	}
	s.notify()
	return s.repo.Get(ctx, rentalNo)
}

// Get answers another customer's rental exactly like a missing one.
func (s *service) Get(ctx context.Context, rentalNo string) (Rental, error) {
	if _, err := auth.Owner(ctx); err != nil {
		return Rental{}, err
	}
	if err := value.ValidateID("rentalNo", rentalNo); err != nil {
		return Rental{}, err
	}
	r, err := s.repo.Get(ctx, rentalNo)
	if err != nil {
		return Rental{}, err
	}
	if !auth.MaySee(ctx, r.CustNo) {
		return Rental{}, fmt.Errorf("rental %q: %w", rentalNo, ErrNotFound)
	}
	return r, nil
}

func (s *service) List(ctx context.Context, p value.Page) (value.List[Rental], error) {
	owner, err := auth.Owner(ctx)
	if err != nil {
		return value.List[Rental]{}, err
	}
	if err := p.Validate(); err != nil {
		return value.List[Rental]{}, err
	}
	return s.repo.List(ctx, owner, p)
}

func (s *service) Config() Region { return s.region.Active() }

func payload(r Rental) event.Rental {
	p := event.Rental{RentalNo: r.RentalNo, ResrvNo: r.ResrvNo, CarNo: r.CarNo, CustNo: r.CustNo,
		Country: r.Country, Region: r.Region, RentedAt: r.RentedAt.Format(time.RFC3339)}
	if r.ReturnedAt != nil {
		p.ReturnedAt = r.ReturnedAt.Format(time.RFC3339)
	}
	return p
}
