package mesh_test

import (
	"fmt"
	"testing"

	"github.com/carrental/carrental/infra/mesh"
	"github.com/carrental/carrental/svc/contract"
)

func TestRequestAuthHeaderOnlyAndForwarded(t *testing.T) {
	ra, err := mesh.Spec(mesh.RequestAuth(
		mesh.Issuer{Issuer: "https://users.example", Audiences: []string{"client"}, JWKSURI: "https://users.example/jwks"},
		mesh.Issuer{Issuer: "https://sa.example", Audiences: []string{contract.ServiceAudience}, JWKSURI: "https://sa.example/keys"}))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{
		"jwtRules.0.issuer": "https://users.example", "jwtRules.0.audiences.0": "client",
		"jwtRules.0.forwardOriginalToken": true, "jwtRules.0.fromHeaders.0.name": "Authorization",
		"jwtRules.1.issuer": "https://sa.example", "jwtRules.1.audiences.0": contract.ServiceAudience,
		"jwtRules.1.jwksUri": "https://sa.example/keys",
	} {
		if got := field(t, ra, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if field(t, ra, "jwtRules.0.fromParams") != nil {
		t.Error("tokens are read from the query string")
	}
}

func TestPrincipalRequiredExceptAnyoneRoutes(t *testing.T) {
	p, err := mesh.Spec(mesh.RequirePrincipal(contract.Gateway))
	if err != nil {
		t.Fatal(err)
	}
	if field(t, p, "action") != "DENY" {
		t.Fatal("not a DENY policy")
	}
	open := fmt.Sprint(field(t, p, "rules.1.to.0.operation.notPaths"))
	for _, want := range []string{"/carManagements/{*}/quote", "/carInformations", "/carInformations/{*}", "/healthz"} {
		if !contains(field(t, p, "rules.1.to.0.operation.notPaths"), want) {
			t.Errorf("anyone may not GET %s: %s", want, open)
		}
	}
	for _, closed := range []string{"/carManagements", "/carManagements/{*}", "/carReservations", "/payments/{*}"} {
		if contains(field(t, p, "rules.1.to.0.operation.notPaths"), closed) {
			t.Errorf("anyone may GET %s", closed)
		}
	}
}

func TestInternalRoutesOnlyRentalsOwnIdentity(t *testing.T) {
	if mesh.InternalOnly(contract.Payment, "carrental", "https://sa.example") != nil {
		t.Error("payment has internal routes")
	}
	p, err := mesh.Spec(mesh.InternalOnly(contract.Reservation, "carrental", "https://sa.example"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"rules.0.from.0.source.notPrincipals.0":        "cluster.local/ns/carrental/sa/rental",
		"rules.1.from.0.source.notRequestPrincipals.0": "https://sa.example/system:serviceaccount:carrental:rental",
		"rules.0.to.0.operation.paths.0":               "/internal/carReservations/{*}/rent",
		"rules.2.to.0.operation.paths.0":               "/internal/carReservations/{*}/return",
		"rules.4.to.0.operation.paths.0":               "/internal/*",
	}
	for path, w := range want {
		if got := field(t, p, path); got != w {
			t.Errorf("%s = %v, want %v", path, got, w)
		}
	}
}

func contains(list any, s string) bool {
	l, _ := list.([]any)
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}
