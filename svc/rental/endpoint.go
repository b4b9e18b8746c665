package rental

import (
	"context"
	"log/slog"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/httpkit"
	"github.com/carrental/carrental/svc/kitmw"
)

// Endpoints are the rental go-kit endpoints.
type Endpoints struct{ Rent, Return, Get, List, Config endpoint.Endpoint }

// MakeEndpoints wraps each use case in logging and instrumentation.
func MakeEndpoints(s Service, log *slog.Logger, m *kitmw.Metrics) Endpoints {
	return Endpoints{
		Rent: kitmw.Chain(func(ctx context.Context, req any) (any, error) {
			r, created, err := s.Rent(ctx, req.(RentRequest))
			if err != nil {
				return nil, err
			}
			return httpkit.Written{Value: r, Created: created}, nil
		}, "rent", log, m),
		Return: kitmw.Chain(func(ctx context.Context, req any) (any, error) {
			return s.Return(ctx, req.(rentalNoRequest).RentalNo)
		}, "return", log, m),
		Get: kitmw.Chain(func(ctx context.Context, req any) (any, error) {
			return s.Get(ctx, req.(rentalNoRequest).RentalNo)
		}, "get_rental", log, m),
		List: kitmw.Chain(func(ctx context.Context, _ any) (any, error) {
			return s.List(ctx)
		}, "list_rentals", log, m),
		Config: kitmw.Chain(func(context.Context, any) (any, error) {
			return s.Config(), nil
		}, "config", log, m),
	}
}

type rentalNoRequest struct{ RentalNo string }
