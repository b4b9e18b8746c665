package management

import (
	"context"
	"log/slog"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/value"
)

// Endpoints are the fleet's go-kit endpoints.
type Endpoints struct {
	Register, Get, List, ChangeAmount, Remove, Quote endpoint.Endpoint
}

// MakeEndpoints wraps each use case in logging and instrumentation.
func MakeEndpoints(s Service, log *slog.Logger, m *endpointmw.Metrics) Endpoints {
	return Endpoints{
		Register:     endpointmw.Chain(makeRegister(s), "register_car", log, m),
		Get:          endpointmw.Chain(makeGet(s), "get_car", log, m),
		List:         endpointmw.Chain(makeList(s), "list_cars", log, m),
		ChangeAmount: endpointmw.Chain(makeChangeAmount(s), "change_amount", log, m),
		Remove:       endpointmw.Chain(makeRemove(s), "remove_car", log, m),
		Quote: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
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
		return httpx.Written{Value: car, Created: created}, nil
	}
}

type carNoRequest struct{ CarNo string }

func makeGet(s Service) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		return s.Get(ctx, req.(carNoRequest).CarNo)
	}
}

func makeList(s Service) endpoint.Endpoint {
	return httpx.ListEndpoint(func(ctx context.Context, r httpx.PageRequest) (value.List[Car], error) { return s.List(ctx, r.Page) })
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
