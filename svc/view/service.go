package view

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/value"
)

// Handle folds one event into the read model; an event that must wait for
// its predecessor returns an error so JetStream redelivers it later.
func Handle(repo Repository) func(ctx context.Context, evt event.Event) error {
	return repo.Apply
}

// ShopWindow is what the caller may see of a row: staff everything, a
// customer everything of the cars they reserved, anyone else (anonymous,
// other customers) only the car itself — nothing that names a customer,
// a reservation, a payment or a rental.
func ShopWindow(ctx context.Context, info CarInformation) CarInformation {
	owner, err := auth.Owner(ctx)
	if err == nil && (owner == "" || (info.CustNo != "" && info.CustNo == owner)) {
		return info
	}
	return CarInformation{CarNo: info.CarNo, RentalAmt: info.RentalAmt, CarRegDt: info.CarRegDt, CarStatus: info.CarStatus, UpdatedAt: info.UpdatedAt}
}

// Endpoints are the view's go-kit endpoints (it only answers queries).
type Endpoints struct{ List, Get endpoint.Endpoint }

// MakeEndpoints wraps the queries in logging and instrumentation.
func MakeEndpoints(repo Repository, log *slog.Logger, m *endpointmw.Metrics) Endpoints {
	return Endpoints{
		List: endpointmw.Chain(httpx.ListEndpoint(func(ctx context.Context, r httpx.PageRequest) (value.List[CarInformation], error) {
			if err := r.Validate(); err != nil {
				return value.List[CarInformation]{}, err
			}
			l, err := repo.List(ctx, r.Page)
			for i := range l.Items {
				l.Items[i] = ShopWindow(ctx, l.Items[i])
			}
			return l, err
		}), "list_information", log, m),
		Get: endpointmw.Chain(func(ctx context.Context, req any) (any, error) {
			carNo := req.(string)
			if err := value.ValidateID("carNo", carNo); err != nil {
				return nil, err
			}
			info, err := repo.Get(ctx, carNo)
			if err != nil {
				return nil, err
			}
			return ShopWindow(ctx, info), nil
		}, "get_information", log, m),
	}
}

// MakeHandler routes /carInformations.
func MakeHandler(e Endpoints) http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(httpx.EncodeError)}
	r := httpx.NewRouter()
	p := contract.PathCarInformations
	r.Handle("GET "+p, kithttp.NewServer(e.List, httpx.DecodePageRequest, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p+"/{carNo}", kithttp.NewServer(e.Get, func(_ context.Context, r *http.Request) (any, error) {
		return r.PathValue("carNo"), nil
	}, httpx.EncodeResponse, opts...))
	return r
}
