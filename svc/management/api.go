package management

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/openapi"
)

// API describes what MakeHandler routes, from the types it decodes and
// encodes.
func API() []openapi.Op {
	p := contract.PathCarManagements
	return []openapi.Op{
		{Method: http.MethodPost, Path: p, Summary: "Register a car (a repeat of the same car answers 200)",
			Body: RegisterRequest{}, Responses: map[int]any{http.StatusCreated: Car{}, http.StatusOK: Car{}}},
		{Method: http.MethodGet, Path: p, Summary: "List the fleet, by carNo", Paged: true,
			Responses: map[int]any{http.StatusOK: Car{}}},
		{Method: http.MethodGet, Path: p + "/{carNo}", Summary: "One car", Responses: map[int]any{http.StatusOK: Car{}}},
		{Method: http.MethodPatch, Path: p + "/{carNo}", Summary: "Change a car's rental amount (its status changes only through reservations and rentals)",
			Body: changeAmountRequest{}, Responses: map[int]any{http.StatusOK: Car{}}},
		{Method: http.MethodDelete, Path: p + "/{carNo}", Summary: "Remove a car that is not reserved or rented",
			Responses: map[int]any{http.StatusNoContent: nil}},
		{Method: http.MethodGet, Path: p + "/{carNo}/quote", Summary: "The fare of a rental, with a Monte Carlo damage waiver (CPU-heavy: the autoscaling experiment's load)",
			Query: []openapi.Param{
				{Name: "from", Description: "first day, yyyyMMdd", Required: true, Schema: openapi3.NewStringSchema().WithPattern(`^[0-9]{8}$`)},
				{Name: "to", Description: "last day, yyyyMMdd", Required: true, Schema: openapi3.NewStringSchema().WithPattern(`^[0-9]{8}$`)},
				{Name: "samples", Description: "simulated rentals (default 1000)", Schema: openapi3.NewIntegerSchema()},
			},
			Responses: map[int]any{http.StatusOK: Quote{}}},
	}
}
