package payment

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/openapi"
)

// API describes what MakeHandler routes, from the types it decodes and
// encodes.
func API() []openapi.Op {
	p := contract.PathPayments
	return []openapi.Op{
		{Method: http.MethodPost, Path: p, Summary: "Approve a payment (reservation calls it); the same key never charges twice",
			Body: ApproveRequest{}, Idempotent: true, Responses: map[int]any{http.StatusCreated: Payment{}, http.StatusOK: Payment{}}},
		{Method: http.MethodGet, Path: p, Summary: "List payments, by paymtNo", Paged: true,
			Query:     []openapi.Param{{Name: "resrvNo", Description: "only this reservation's", Schema: openapi3.NewStringSchema()}},
			Responses: map[int]any{http.StatusOK: Payment{}}},
		{Method: http.MethodGet, Path: p + "/{paymtNo}", Summary: "One payment", Responses: map[int]any{http.StatusOK: Payment{}}},
		{Method: http.MethodPost, Path: p + "/{paymtNo}/cancel", Summary: "Cancel a payment", Idempotent: true,
			Responses: map[int]any{http.StatusOK: Payment{}}},
	}
}
