package rental

import (
	"net/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/openapi"
)

// API describes what MakeHandler routes, from the types it decodes and
// encodes; Public leaves out /config, which only the pod's admin reads.
func API() []openapi.Op {
	return append(Public(), openapi.Op{Method: http.MethodGet, Path: PathConfig,
		Summary:   "The region setting in force and where it came from (the ConfigMap's file, env or default)",
		Responses: map[int]any{http.StatusOK: Region{}}})
}

// Public is the part of API the gateway serves.
func Public() []openapi.Op {
	p := contract.PathCarRentals
	return []openapi.Op{
		{Method: http.MethodPost, Path: p, Summary: "Rent a reserved car (a repeat answers 200)",
			Body: RentRequest{}, Responses: map[int]any{http.StatusCreated: Rental{}, http.StatusOK: Rental{}}},
		{Method: http.MethodGet, Path: p, Summary: "List rentals, by rentalNo", Paged: true, Responses: map[int]any{http.StatusOK: Rental{}}},
		{Method: http.MethodGet, Path: p + "/{rentalNo}", Summary: "One rental", Responses: map[int]any{http.StatusOK: Rental{}}},
		{Method: http.MethodPost, Path: p + "/{rentalNo}/return", Summary: "Return a rented car: it is WAITING again",
			Responses: map[int]any{http.StatusOK: Rental{}}},
	}
}
