// Package wiring wires each bounded context to the runtime: one host.Spec
// per service, built from its domain package and its adapters. The service
// binaries (svc/cmd/<name>) and the all-in-one local run use these.
package wiring

import (
	"fmt"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/host"
)

// All returns the spec of every service, in contract.Services() order.
func All() []host.Spec {
	return []host.Spec{Gateway(), Management(), Reservation(), Payment(), Rental(), View()}
}

// ByName returns the spec of one service.
func ByName(name contract.Service) (host.Spec, error) {
	for _, s := range All() {
		if s.Service == name {
			return s, nil
		}
	}
	return host.Spec{}, fmt.Errorf("no service %q", name)
}
