package rental

import (
	"context"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// PathConfig shows the active rental-region values.
const PathConfig = contract.PathRentalConfig

// MakeHandler routes /carRentals and /config.
func MakeHandler(e Endpoints) http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(httpx.EncodeError)}
	r := httpx.NewRouter()
	p := contract.PathCarRentals
	r.Handle("POST "+p, kithttp.NewServer(e.Rent, decodeRent, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p, kithttp.NewServer(e.List, httpx.DecodePageRequest, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p+"/{rentalNo}", kithttp.NewServer(e.Get, decodeRentalNo, httpx.EncodeResponse, opts...))
	r.Handle("POST "+p+"/{rentalNo}/return", kithttp.NewServer(e.Return, decodeRentalNo, httpx.EncodeResponse, opts...))
	r.Handle("GET "+PathConfig, kithttp.NewServer(e.Config, kithttp.NopRequestDecoder, httpx.EncodeResponse, opts...))
	return r
}

func decodeRent(_ context.Context, r *http.Request) (any, error) { return DecodeRent(r) }

// DecodeRent reads and validates a POST /carRentals body.
func DecodeRent(r *http.Request) (RentRequest, error) {
	var req RentRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return req, err
	}
	return req, req.Validate()
}

func decodeRentalNo(_ context.Context, r *http.Request) (any, error) {
	return rentalNoRequest{RentalNo: r.PathValue("rentalNo")}, nil
}
