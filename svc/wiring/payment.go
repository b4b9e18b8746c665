package wiring

import (
	"context"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/payment"
	"github.com/carrental/carrental/svc/payment/sqlstore"
	"github.com/carrental/carrental/svc/platform/host"
)

// Payment approves and cancels payments (/payments), idempotently.
func Payment() host.Spec {
	return host.Spec{
		Service:    contract.Payment,
		Migrations: sqlstore.Migrations,
		Events:     true,
		API:        payment.API(),
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			svc := payment.NewService(sqlstore.Store{DB: d.DB}, d.Now, d.Relay.Notify)
			return &host.Built{Handler: payment.MakeHandler(payment.MakeEndpoints(svc, d.Log, d.Metrics))}, nil
		},
	}
}
