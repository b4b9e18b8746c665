package view

import (
	"net/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/openapi"
)

// API describes what MakeHandler routes, from the type it encodes.
func API() []openapi.Op {
	p := contract.PathCarInformations
	return []openapi.Op{
		{Method: http.MethodGet, Path: p, Summary: "The read model: every car with its reservation, payment and rental, by carNo", Paged: true,
			Responses: map[int]any{http.StatusOK: CarInformation{}}},
		{Method: http.MethodGet, Path: p + "/{carNo}", Summary: "One car's information", Responses: map[int]any{http.StatusOK: CarInformation{}}},
	}
}
