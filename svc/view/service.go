package view

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/errs"
	"github.com/carrental/carrental/svc/event"
	"github.com/carrental/carrental/svc/httpkit"
	"github.com/carrental/carrental/svc/kitmw"
	"github.com/carrental/carrental/svc/management"
)

// Handle folds one event into the read model; an event that must wait for
// its predecessor returns an error so JetStream redelivers it later.
func Handle(repo Repository) func(ctx context.Context, evt event.Event) error {
	return func(ctx context.Context, evt event.Event) error {
		decision, err := repo.Apply(ctx, evt)
		if err != nil {
			return err
		}
		if decision == event.Wait {
			return errs.E(errs.Conflict, "%s %s waits for the car's current reservation to finish", evt.Type, evt.ID)
		}
		return nil
	}
}

// Endpoints are the view's go-kit endpoints (it only answers queries).
type Endpoints struct{ List, Get endpoint.Endpoint }

// MakeEndpoints wraps the queries in logging and instrumentation.
func MakeEndpoints(repo Repository, log *slog.Logger, m *kitmw.Metrics) Endpoints {
	return Endpoints{
		List: kitmw.Chain(func(ctx context.Context, _ any) (any, error) { return repo.List(ctx) }, "list_information", log, m),
		Get: kitmw.Chain(func(ctx context.Context, req any) (any, error) {
			carNo := req.(string)
			if err := management.ValidateCarNo(carNo); err != nil {
				return nil, err
			}
			return repo.Get(ctx, carNo)
		}, "get_information", log, m),
	}
}

// MakeHandler routes /carInformations.
func MakeHandler(e Endpoints) http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(httpkit.EncodeError)}
	r := httpkit.NewRouter()
	p := contract.PathCarInformations
	r.Handle("GET "+p, kithttp.NewServer(e.List, kithttp.NopRequestDecoder, httpkit.EncodeResponse, opts...))
	r.Handle("GET "+p+"/{carNo}", kithttp.NewServer(e.Get, func(_ context.Context, r *http.Request) (any, error) {
		return r.PathValue("carNo"), nil
	}, httpkit.EncodeResponse, opts...))
	return r
}
