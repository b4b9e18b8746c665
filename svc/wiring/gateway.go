package wiring

import (
	"context"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/gateway"
	"github.com/carrental/carrental/svc/platform/host"
)

// Gateway routes the public paths to the services; it keeps no data.
func Gateway() host.Spec {
	return host.Spec{
		Service: contract.Gateway,
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			h, err := gateway.New(d.Config.Upstream, d.HTTP.Transport, d.Log, d.Metrics)
			if err != nil {
				return nil, err
			}
			return &host.Built{Handler: h}, nil
		},
	}
}
