package reservation

import (
	"context"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// InternalPath prefixes the calls only rental makes. The gateway routes
// only contract.Routes(), so these are unreachable from outside.
const InternalPath = "/internal" + contract.PathCarReservations

// MakeHandler routes /carReservations and the internal rent/return calls.
func MakeHandler(e Endpoints) http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(httpx.EncodeError)}
	r := httpx.NewRouter()
	p := contract.PathCarReservations
	r.Handle("POST "+p, kithttp.NewServer(e.Reserve, decodeReserve, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p, kithttp.NewServer(e.List, httpx.DecodePageRequest, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p+"/{resrvNo}", kithttp.NewServer(e.Get, decodeResrvNo, httpx.EncodeResponse, opts...))
	r.Handle("POST "+p+"/{resrvNo}/cancel", kithttp.NewServer(e.Cancel, decodeResrvNo, httpx.EncodeResponse, opts...))
	r.Handle("POST "+InternalPath+"/{resrvNo}/rent", kithttp.NewServer(e.MarkRented, decodeResrvNo, httpx.EncodeResponse, opts...))
	r.Handle("POST "+InternalPath+"/{resrvNo}/return", kithttp.NewServer(e.MarkReturned, decodeResrvNo, httpx.EncodeResponse, opts...))
	return r
}

func decodeReserve(_ context.Context, r *http.Request) (any, error) { return DecodeReserve(r) }

// DecodeReserve reads and validates a POST /carReservations body.
func DecodeReserve(r *http.Request) (ReserveRequest, error) {
	var req ReserveRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return req, err
	}
	return req, req.Validate()
}

func decodeResrvNo(_ context.Context, r *http.Request) (any, error) {
	return resrvNoRequest{ResrvNo: r.PathValue("resrvNo")}, nil
}
