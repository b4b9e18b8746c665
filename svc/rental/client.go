package rental

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// HTTPReservations is reservation's go-kit client for the internal calls.
type HTTPReservations struct{ call, get endpoint.Endpoint }

// NewHTTPReservations calls reservation at base.
func NewHTTPReservations(c *http.Client, base string) HTTPReservations {
	return HTTPReservations{
		call: httpx.ClientEndpoint(c, http.MethodPost, base, string(contract.Reservation), func() any { return &Booking{} }),
		get:  httpx.ClientEndpoint(c, http.MethodGet, base, string(contract.Reservation), func() any { return &Booking{} }),
	}
}

// Get reads the reservation with the user's identity (forwarded).
func (h HTTPReservations) Get(ctx context.Context, resrvNo string) (Booking, error) {
	resp, err := h.get(ctx, httpx.ClientRequest{Path: contract.PathCarReservations + "/" + resrvNo})
	if err != nil {
		return Booking{}, err
	}
	return *resp.(*Booking), nil
}

// internalPath mirrors reservation.InternalPath; rental depends on the
// contract, not on reservation's code.
const internalPath = "/internal" + contract.PathCarReservations

func (h HTTPReservations) move(ctx context.Context, resrvNo, to string) (Booking, error) {
	// Both moves are compare-and-set and idempotent, so the resilience
	// layer may retry them.
	// The state change is rental's own business: its identity.
	resp, err := h.call(auth.AsService(ctx), httpx.ClientRequest{Path: internalPath + "/" + resrvNo + "/" + to,
		Header: http.Header{"Idempotency-Key": {to + "-" + resrvNo}}})
	if err != nil {
		return Booking{}, err
	}
	return *resp.(*Booking), nil
}

// MarkRented moves the reservation to RENTED.
func (h HTTPReservations) MarkRented(ctx context.Context, resrvNo string) (Booking, error) {
	return h.move(ctx, resrvNo, "rent")
}

// MarkReturned moves the reservation to RETURNED.
func (h HTTPReservations) MarkReturned(ctx context.Context, resrvNo string) (Booking, error) {
	return h.move(ctx, resrvNo, "return")
}
