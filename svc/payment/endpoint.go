package payment

import (
	"context"
	"log/slog"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/value"
)

// Endpoints are the payment go-kit endpoints.
type Endpoints struct{ Approve, Cancel, Get, List endpoint.Endpoint }

// MakeEndpoints wraps each use case in logging and instrumentation.
func MakeEndpoints(s Service, log *slog.Logger, m *endpointmw.Metrics) Endpoints {
	return Endpoints{
		Approve: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			p, created, err := s.Approve(ctx, req.(ApproveRequest))
			if err != nil {
				return nil, err
			}
			return httpx.Written{Value: p, Created: created}, nil
		}, "approve", log, m),
		Cancel: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			return s.Cancel(ctx, req.(paymtNoRequest).PaymtNo)
		}, "cancel", log, m),
		Get: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			return s.Get(ctx, req.(paymtNoRequest).PaymtNo)
		}, "get_payment", log, m),
		List: endpointmw.Chain(httpx.ListEndpoint(func(ctx context.Context, r httpx.PageRequest) (value.List[Payment], error) {
			return s.List(ctx, r.Query.Get("resrvNo"), r.Page)
		}), "list_payments", log, m),
	}
}

type paymtNoRequest struct{ PaymtNo string }
