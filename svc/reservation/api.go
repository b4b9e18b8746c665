package reservation

import (
	"net/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/openapi"
)

// API describes what MakeHandler routes, from the types it decodes and
// encodes; Public leaves out the internal paths the gateway never routes.
func API() []openapi.Op {
	return append(Public(),
		openapi.Op{Method: http.MethodPost, Path: InternalPath + "/{resrvNo}/rent", Summary: "rental marks the reservation rented (internal)",
			Responses: map[int]any{http.StatusOK: Reservation{}}},
		openapi.Op{Method: http.MethodPost, Path: InternalPath + "/{resrvNo}/return", Summary: "rental marks the reservation returned (internal)",
			Responses: map[int]any{http.StatusOK: Reservation{}}},
	)
}

// Public is the part of API the gateway serves.
func Public() []openapi.Op {
	p := contract.PathCarReservations
	return []openapi.Op{
		{Method: http.MethodPost, Path: p, Summary: "Reserve a car: checks it, charges the payment, the car becomes RESERVED (a repeat answers 200)",
			Body: ReserveRequest{}, Responses: map[int]any{http.StatusCreated: Reservation{}, http.StatusOK: Reservation{}}},
		{Method: http.MethodGet, Path: p, Summary: "List reservations, by resrvNo", Paged: true, Responses: map[int]any{http.StatusOK: Reservation{}}},
		{Method: http.MethodGet, Path: p + "/{resrvNo}", Summary: "One reservation", Responses: map[int]any{http.StatusOK: Reservation{}}},
		{Method: http.MethodPost, Path: p + "/{resrvNo}/cancel", Summary: "Cancel a reservation: the payment is canceled, the car WAITING again",
			Responses: map[int]any{http.StatusOK: Reservation{}}},
	}
}
