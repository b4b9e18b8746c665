package management

import (
	"context"
	"net/http"
	"strconv"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/value"
)

// MakeHandler routes the write-up's /carManagements paths to the endpoints.
func MakeHandler(e Endpoints) http.Handler {
	opts := []kithttp.ServerOption{kithttp.ServerErrorEncoder(httpx.EncodeError)}
	r := httpx.NewRouter()
	p := contract.PathCarManagements
	r.Handle("POST "+p, kithttp.NewServer(e.Register, decodeRegister, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p, kithttp.NewServer(e.List, httpx.DecodePageRequest, httpx.EncodeResponse, opts...))
	r.Handle("GET "+p+"/{carNo}", kithttp.NewServer(e.Get, decodeCarNo, httpx.EncodeResponse, opts...))
	r.Handle("PATCH "+p+"/{carNo}", kithttp.NewServer(e.ChangeAmount, decodeChangeAmount, httpx.EncodeResponse, opts...))
	r.Handle("DELETE "+p+"/{carNo}", kithttp.NewServer(e.Remove, decodeCarNo, encodeNoContent, opts...))
	r.Handle("GET "+p+"/{carNo}/quote", kithttp.NewServer(e.Quote, decodeQuote, httpx.EncodeResponse, opts...))
	return r
}

func decodeRegister(_ context.Context, r *http.Request) (any, error) { return DecodeRegister(r) }

// DecodeRegister reads and validates a POST /carManagements body.
func DecodeRegister(r *http.Request) (RegisterRequest, error) {
	var req RegisterRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return req, err
	}
	return req, req.Validate()
}

func decodeCarNo(_ context.Context, r *http.Request) (any, error) {
	return carNoRequest{CarNo: r.PathValue("carNo")}, nil
}

func decodeChangeAmount(_ context.Context, r *http.Request) (any, error) {
	return DecodeChangeAmount(r)
}

// DecodeChangeAmount reads a PATCH body: only rentalAmt may change.
func DecodeChangeAmount(r *http.Request) (changeAmountRequest, error) {
	var req changeAmountRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return req, err
	}
	if req.ProcStatus != nil {
		return req, errs.E(errs.Invalid, "procStatus cannot be set: a car's status changes only through reservations and rentals")
	}
	if req.RentalAmt == 0 {
		return req, errs.E(errs.Invalid, "rentalAmt is required")
	}
	req.CarNo = r.PathValue("carNo")
	return req, nil
}

func encodeNoContent(_ context.Context, w http.ResponseWriter, _ any) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func decodeQuote(_ context.Context, r *http.Request) (any, error) { return DecodeQuote(r) }

// DecodeQuote reads GET /carManagements/{carNo}/quote?from=&to=&samples=.
func DecodeQuote(r *http.Request) (QuoteRequest, error) {
	q := r.URL.Query()
	req := QuoteRequest{CarNo: r.PathValue("carNo"), Samples: 1000}
	var err error
	if req.From, err = value.ParseDate(q.Get("from")); err != nil {
		return req, errs.E(errs.Invalid, "from: %s", errs.MessageOf(err))
	}
	if req.To, err = value.ParseDate(q.Get("to")); err != nil {
		return req, errs.E(errs.Invalid, "to: %s", errs.MessageOf(err))
	}
	if s := q.Get("samples"); s != "" {
		if req.Samples, err = strconv.Atoi(s); err != nil {
			return req, errs.E(errs.Invalid, "samples %q is not a whole number", s)
		}
	}
	return req, req.Validate()
}
