package rental

import (
	"context"
	"log/slog"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/value"
)

// Endpoints are the rental go-kit endpoints.
type Endpoints struct{ Rent, Return, Get, List, Config endpoint.Endpoint }

// MakeEndpoints wraps each use case in logging and instrumentation.
func MakeEndpoints(s Service, log *slog.Logger, m *endpointmw.Metrics) Endpoints {
	return Endpoints{
		Rent: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			r, created, err := s.Rent(ctx, req.(RentRequest))
			if err != nil {
				return nil, err
			}
			return httpx.Written{Value: r, Created: created}, nil
		}, "rent", log, m),
		Return: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			return s.Return(ctx, req.(rentalNoRequest).RentalNo)
		}, "return", log, m),
		Get: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			return s.Get(ctx, req.(rentalNoRequest).RentalNo)
		}, "get_rental", log, m),
		List: endpointmw.Chain(httpx.ListEndpoint(func(ctx context.Context, r httpx.PageRequest) (value.List[Rental], error) {
			return s.List(ctx, r.Page)
		}), "list_rentals", log, m),
		Config: endpointmw.Chain(func(context.Context, any) (any, error) {
			return s.Config(), nil
		}, "config", log, m),
	}
}

type rentalNoRequest struct{ RentalNo string }
