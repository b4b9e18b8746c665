package wiring

import (
	"context"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/management/sqlstore"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/platform/lifecycle"
	"github.com/carrental/carrental/svc/platform/nats"
)

// Management is the fleet service: /carManagements, and the consumer that
// moves car statuses along reservations and rentals.
func Management() host.Spec {
	return host.Spec{
		Service:    contract.Management,
		Migrations: sqlstore.Migrations,
		Events:     true,
		API:        management.API(),
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			store := sqlstore.Store{DB: d.DB}
			svc := management.NewService(store, d.Now, d.Relay.Notify)
			return &host.Built{
				Handler: management.MakeHandler(management.MakeEndpoints(svc, d.Log, d.Metrics)),
				Consumers: []nats.Consumer{{
					Durable: string(contract.Management),
					Types:   lifecycle.Events,
					Handle:  management.EventHandler{Repo: store}.Handle,
				}},
			}, nil
		},
	}
}
