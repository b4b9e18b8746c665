package services

import (
	"context"

	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/payment"
	"github.com/carrental/carrental/svc/payment/sqlstore"
)

// Payment approves and cancels payments (/payments), idempotently.
func Payment() app.Spec {
	return app.Spec{
		Service:    contract.Payment,
		Migrations: sqlstore.Migrations,
		Events:     true,
		Build: func(_ context.Context, d *app.Deps) (*app.Built, error) {
			svc := payment.NewService(sqlstore.Store{DB: d.DB}, d.Now, d.Relay.Notify)
			return &app.Built{Handler: payment.MakeHandler(payment.MakeEndpoints(svc, d.Log, d.Metrics))}, nil
		},
	}
}
