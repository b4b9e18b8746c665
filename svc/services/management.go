package services

import (
	"context"

	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/management/sqlstore"
	"github.com/carrental/carrental/svc/nats"
)

// Management is the fleet service: /carManagements, and the consumer that
// moves car statuses along reservations and rentals.
func Management() app.Spec {
	return app.Spec{
		Service:    contract.Management,
		Migrations: sqlstore.Migrations,
		Events:     true,
		Build: func(_ context.Context, d *app.Deps) (*app.Built, error) {
			store := sqlstore.Store{DB: d.DB}
			svc := management.NewService(store, d.Now, d.Relay.Notify)
			return &app.Built{
				Handler: management.MakeHandler(management.MakeEndpoints(svc, d.Log, d.Metrics)),
				Consumers: []nats.Consumer{{
					Durable: string(contract.Management),
					Types:   management.LifecycleEvents,
					Handle:  management.EventHandler{Repo: store}.Handle,
				}},
			}, nil
		},
	}
}
