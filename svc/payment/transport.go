package payment

import (
	"context"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// IdempotencyKeyHeader names the header that makes a retried approval safe.
const IdempotencyKeyHeader = "Idempotency-Key"

// MakeHandler routes /payments.
func MakeHandler(e Endpoints) http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(httpx.EncodeError)}
	r := httpx.NewRouter()
	p := contract.PathPayments
	r.Handle("POST "+p, kithttp.NewServer(e.Approve, decodeApprove, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p, kithttp.NewServer(e.List, httpx.DecodePageRequest, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p+"/{paymtNo}", kithttp.NewServer(e.Get, decodePaymtNo, httpx.EncodeResponse, opts...))
	r.Handle("POST "+p+"/{paymtNo}/cancel", kithttp.NewServer(e.Cancel, decodePaymtNo, httpx.EncodeResponse, opts...))
	return r
}

func decodeApprove(_ context.Context, r *http.Request) (any, error) {
	return DecodeApprove(r)
}

// DecodeApprove reads and validates a POST /payments request.
func DecodeApprove(r *http.Request) (ApproveRequest, error) {
	var req ApproveRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return req, err
	}
	req.Key = r.Header.Get(IdempotencyKeyHeader)
	if req.Key == "" {
		req.Key = req.ResrvNo
	}
	return req, req.Validate()
}

func decodePaymtNo(_ context.Context, r *http.Request) (any, error) {
	return paymtNoRequest{PaymtNo: r.PathValue("paymtNo")}, nil
}
