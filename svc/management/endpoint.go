package management

import (
	"context"
	"log/slog"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/httpkit"
	"github.com/carrental/carrental/svc/kitmw"
	"github.com/carrental/carrental/svc/value"
)

// Endpoints are the fleet's go-kit endpoints.
type Endpoints struct {
	Register, Get, List, ChangeAmount, Remove, Quote endpoint.Endpoint
}

// MakeEndpoints wraps each use case in logging and instrumentation.
func MakeEndpoints(s Service, log *slog.Logger, m *kitmw.Metrics) Endpoints {
	return Endpoints{
		Register:     kitmw.Chain(makeRegister(s), "register_car", log, m),
		Get:          kitmw.Chain(makeGet(s), "get_car", log, m),
		List:         kitmw.Chain(makeList(s), "list_cars", log, m),
		ChangeAmount: kitmw.Chain(makeChangeAmount(s), "change_amount", log, m),
		Remove:       kitmw.Chain(makeRemove(s), "remove_car", log, m),
		Quote: kitmw.Chain(func(ctx context.Context, req any) (any, error) {
			return s.Quote(ctx, req.(QuoteRequest))
		}, "quote", log, m),
	}
}

func makeRegister(s Service) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		car, created, err := s.Register(ctx, req.(RegisterRequest))
		if err != nil {
			return nil, err
		}
		return httpkit.Written{Value: car, Created: created}, nil
	}
}

type carNoRequest struct{ CarNo string }

func makeGet(s Service) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		return s.Get(ctx, req.(carNoRequest).CarNo)
	}
}

func makeList(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		return s.List(ctx)
	}
}

type changeAmountRequest struct {
	CarNo     string       `json:"-"`
	RentalAmt value.Amount `json:"rentalAmt"`
	// ProcStatus is accepted only to reject it with a clear message.
	ProcStatus *string `json:"procStatus,omitempty"`
}

func makeChangeAmount(s Service) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		r := req.(changeAmountRequest)
		return s.ChangeAmount(ctx, r.CarNo, r.RentalAmt)
	}
}

func makeRemove(s Service) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		return nil, s.Remove(ctx, req.(carNoRequest).CarNo) // encodeNoContent answers 204
	}
}
