package services

import (
	"context"

	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/gateway"
)

// Gateway routes the public paths to the services; it keeps no data.
func Gateway() app.Spec {
	return app.Spec{
		Service: contract.Gateway,
		Build: func(_ context.Context, d *app.Deps) (*app.Built, error) {
			h, err := gateway.New(d.Config.Upstream, d.HTTP.Transport, d.Log, d.Metrics)
			if err != nil {
				return nil, err
			}
			return &app.Built{Handler: h}, nil
		},
	}
}
