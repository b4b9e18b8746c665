package reservation

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// HTTPCars is management's go-kit client.
type HTTPCars struct{ get endpoint.Endpoint }

// NewHTTPCars calls management at base.
func NewHTTPCars(c *http.Client, base string) HTTPCars {
	return HTTPCars{get: httpx.ClientEndpoint(c, http.MethodGet, base, string(contract.Management), func() any { return &Car{} })}
}

// Car fetches one car.
func (h HTTPCars) Car(ctx context.Context, carNo string) (Car, error) {
	// Checking a car is reservation's own business (car records hold no
	// customer data): its own identity, not the user's.
	resp, err := h.get(auth.AsService(ctx), httpx.ClientRequest{Path: contract.PathCarManagements + "/" + carNo})
	if err != nil {
		return Car{}, err
	}
	return *resp.(*Car), nil
}

// HTTPPayments is payment's go-kit client.
type HTTPPayments struct{ approve, cancel endpoint.Endpoint }

// NewHTTPPayments calls payment at base.
func NewHTTPPayments(c *http.Client, base string) HTTPPayments {
	return HTTPPayments{
		approve: httpx.ClientEndpoint(c, http.MethodPost, base, string(contract.Payment), func() any { return &PaymentResult{} }),
		cancel:  httpx.ClientEndpoint(c, http.MethodPost, base, string(contract.Payment), func() any { return &PaymentResult{} }),
	}
}

// Approve charges once per reservation: the resrvNo travels as the
// Idempotency-Key, which also lets the resilience layer retry the call.
func (h HTTPPayments) Approve(ctx context.Context, c Charge) (PaymentResult, error) {
	resp, err := h.approve(ctx, httpx.ClientRequest{Path: contract.PathPayments, Body: c,
		Header: http.Header{"Idempotency-Key": {c.ResrvNo}}})
	if err != nil {
		return PaymentResult{}, err
	}
	return *resp.(*PaymentResult), nil
}

// Cancel refunds a payment; cancelling twice is harmless.
func (h HTTPPayments) Cancel(ctx context.Context, paymtNo string) error {
	_, err := h.cancel(ctx, httpx.ClientRequest{Path: contract.PathPayments + "/" + paymtNo + "/cancel",
		Header: http.Header{"Idempotency-Key": {"cancel-" + paymtNo}}})
	return err
}
