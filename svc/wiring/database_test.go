package wiring_test

import (
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/wiring"
)

// The stack gives the database (its credentials, a share of its
// connections) to the services contract.HasDatabase names: exactly those
// whose specs migrate a schema.
func TestHasDatabaseIsWhoMigrates(t *testing.T) {
	for _, spec := range wiring.All() {
		if got, want := contract.HasDatabase(spec.Service), spec.Migrations != nil; got != want {
			t.Errorf("%s: contract.HasDatabase %v, but it has migrations: %v", spec.Service, got, want)
		}
	}
}
