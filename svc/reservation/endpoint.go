package reservation

import (
	"context"
	"log/slog"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/value"
)

// Endpoints are the reservation go-kit endpoints.
type Endpoints struct {
	Reserve, Get, List, Cancel, MarkRented, MarkReturned endpoint.Endpoint
}

// MakeEndpoints wraps each use case in logging and instrumentation.
func MakeEndpoints(s Service, log *slog.Logger, m *endpointmw.Metrics) Endpoints {
	byNo := func(fn func(context.Context, string) (Reservation, error)) endpoint.Endpoint {
		return func(ctx context.Context, req any) (any, error) { return fn(ctx, req.(resrvNoRequest).ResrvNo) }
	}
	return Endpoints{
		Reserve: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			res, created, err := s.Reserve(ctx, req.(ReserveRequest))
			if err != nil {
				return nil, err
			}
			return httpx.Written{Value: res, Created: created}, nil
		}, "reserve", log, m),
		Get: endpointmw.Chain(byNo(s.Get), "get_reservation", log, m),
		List: endpointmw.Chain(httpx.ListEndpoint(func(ctx context.Context, r httpx.PageRequest) (value.List[Reservation], error) {
			return s.List(ctx, r.Page)
		}), "list_reservations", log, m),
		Cancel:       endpointmw.Chain(byNo(s.Cancel), "cancel", log, m),
		MarkRented:   endpointmw.Chain(byNo(s.MarkRented), "mark_rented", log, m),
		MarkReturned: endpointmw.Chain(byNo(s.MarkReturned), "mark_returned", log, m),
	}
}

type resrvNoRequest struct{ ResrvNo string }
