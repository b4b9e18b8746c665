package wiring

import (
	"context"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/platform/nats"
	"github.com/carrental/carrental/svc/view"
	"github.com/carrental/carrental/svc/view/sqlstore"
)

// View serves the read model (/carInformations), built only from events.
func View() host.Spec {
	return host.Spec{
		Service:    contract.View,
		Migrations: sqlstore.Migrations,
		Events:     true,
		API:        view.API(),
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			store := sqlstore.Store{DB: d.DB}
			return &host.Built{
				Handler:   view.MakeHandler(view.MakeEndpoints(store, d.Log, d.Metrics)),
				Consumers: []nats.Consumer{{Durable: string(contract.View), Types: view.Events, Handle: view.Handle(store)}},
			}, nil
		},
	}
}
