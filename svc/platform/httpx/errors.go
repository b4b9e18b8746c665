// Package httpx holds the HTTP plumbing every service shares: strict JSON
// decoding, JSON responses, the one mapping from error codes to status codes,
// a router that answers unknown routes in JSON, and a server with graceful
// shutdown.
package httpx

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/trace"

	"github.com/carrental/carrental/svc/platform/errs"
)

// StatusOf is the one place where an error code becomes an HTTP status.
func StatusOf(code errs.Code) int {
	switch code {
	case "":
		return http.StatusOK
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge
	case errs.Unsupported:
		return http.StatusUnsupportedMediaType
	case errs.NotAllowed:
		return http.StatusMethodNotAllowed
	case errs.Unavailable, errs.Overloaded:
		return http.StatusServiceUnavailable
	case errs.RateLimited:
		return http.StatusTooManyRequests
	case errs.HeadersTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case errs.Timeout:
		return http.StatusGatewayTimeout
	case errs.Canceled:
		return StatusClientClosedRequest
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	default:
		return http.StatusInternalServerError
	}
}

// StatusClientClosedRequest is nginx's 499: the client hung up before the
// answer, which nobody reads; it keeps such requests out of the 5xx counts.
const StatusClientClosedRequest = 499

// CodeOfStatus is StatusOf's inverse for errors read back from an upstream
// service, so a 404 from payment stays a 404 for the caller of reservation.
func CodeOfStatus(status int) errs.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return errs.Invalid
	case http.StatusNotFound:
		return errs.NotFound
	case http.StatusUnauthorized:
		return errs.Unauthenticated
	case http.StatusForbidden:
		return errs.Forbidden
	case http.StatusConflict:
		return errs.Conflict
	case http.StatusRequestEntityTooLarge:
		return errs.TooLarge
	case http.StatusRequestHeaderFieldsTooLarge:
		return errs.HeadersTooLarge
	case http.StatusUnsupportedMediaType:
		return errs.Unsupported
	case http.StatusMethodNotAllowed:
		return errs.NotAllowed
	case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway:
		return errs.Unavailable
	case http.StatusGatewayTimeout:
		return errs.Timeout
	case StatusClientClosedRequest:
		return errs.Canceled
	default:
		return errs.Internal
	}
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Code    errs.Code `json:"code"`
	Message string    `json:"message"`
	// TraceID is the request's trace (absent when tracing is off): the
	// key to its spans and to its log lines in every service.
	TraceID string `json:"traceId,omitempty"`
}

// NewErrorBody is the body of an error answered in ctx's trace.
func NewErrorBody(ctx context.Context, code errs.Code, message string) ErrorBody {
	b := ErrorBody{Code: code, Message: message}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		b.TraceID = sc.TraceID().String()
	}
	return b
}

// EncodeError writes err as a JSON ErrorBody with the status its code maps
// to. It has the signature of go-kit's ServerErrorEncoder. It logs nothing:
// the endpoint middleware logs each failed request once.
func EncodeError(ctx context.Context, err error, w http.ResponseWriter) {
	code := errs.CodeOf(err)
	if code == errs.Overloaded {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	if code == errs.Unauthenticated && w.Header().Get("WWW-Authenticate") == "" {
		// RFC 6750: a 401 names the scheme; error="invalid_token" is added
		// by the caller that refused a token.
		w.Header().Set("WWW-Authenticate", BearerChallenge)
	}
	WriteJSON(w, StatusOf(code), NewErrorBody(ctx, code, errs.MessageOf(err)))
}

// BearerChallenge is the WWW-Authenticate of every 401.
const BearerChallenge = `Bearer realm="carrental"`

// RetryAfterSeconds is what an overloaded answer tells the caller to wait.
const RetryAfterSeconds = 1

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// StatusCoder is implemented by responses whose status is not 200, e.g. a
// created resource answers 201.
type StatusCoder interface{ StatusCode() int }

// EncodeResponse writes a go-kit endpoint's response as JSON, with the
// status its StatusCode method gives (200 otherwise).
func EncodeResponse(_ context.Context, w http.ResponseWriter, response any) error {
	status := http.StatusOK
	if sc, ok := response.(StatusCoder); ok {
		status = sc.StatusCode()
	}
	if h, ok := response.(interface{ Headers() http.Header }); ok {
		for k, v := range h.Headers() {
			w.Header()[k] = v
		}
	}
	if r, ok := response.(interface{ Body() any }); ok {
		response = r.Body()
	}
	WriteJSON(w, status, response)
	return nil
}

// Written answers a write: 201 Created when it made something new, 200 when
// it was a replay of an earlier, identical write.
type Written struct {
	Value   any
	Created bool
}

// StatusCode is 201 or 200.
func (w Written) StatusCode() int {
	if w.Created {
		return http.StatusCreated
	}
	return http.StatusOK
}

// Body is the written value.
func (w Written) Body() any { return w.Value }
