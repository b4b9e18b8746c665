package wiring

import (
	"context"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/gateway"
	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/payment"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/platform/openapi"
	"github.com/carrental/carrental/svc/rental"
	"github.com/carrental/carrental/svc/reservation"
	"github.com/carrental/carrental/svc/view"
)

// Gateway routes the public paths to the services; it keeps no data.
func Gateway() host.Spec {
	return host.Spec{
		Service: contract.Gateway,
		API:     PublicAPI(),
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			h, err := gateway.New(d.Config.Upstream, d.HTTP.Transport, d.Log, d.Metrics)
			if err != nil {
				return nil, err
			}
			return &host.Built{Handler: h}, nil
		},
	}
}

// PublicAPI is what the gateway routes: each public path's operations, as
// the service that owns it describes them (api/openapi.json is this
// document, committed).
func PublicAPI() []openapi.Op {
	var ops []openapi.Op
	for _, part := range [][]openapi.Op{management.API(), reservation.Public(), payment.API(), rental.Public(), view.API()} {
		ops = append(ops, part...)
	}
	return ops
}
