// Package services wires each bounded context to the runtime: one app.Spec
// per service, built from its domain package and its adapters. The service
// binaries (svc/cmd/<name>) and the all-in-one local run use these.
package services

import (
	"fmt"

	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/contract"
)

// All returns the spec of every service, in contract.Services() order.
func All() []app.Spec {
	return []app.Spec{Gateway(), Management(), Reservation(), Payment(), Rental(), View()}
}

// ByName returns the spec of one service.
func ByName(name contract.Service) (app.Spec, error) {
	for _, s := range All() {
		if s.Service == name {
			return s, nil
		}
	}
	return app.Spec{}, fmt.Errorf("no service %q", name)
}
