// Package errs is the error vocabulary shared by every service. Domain code
// says what went wrong with a Code; the transport maps a Code to an HTTP
// status in exactly one place (httpx.StatusOf).
package errs

import (
	"context"
	"errors"
	"fmt"
)

// Code classifies an error by what the caller can do about it.
type Code string

const (
	Invalid     Code = "invalid"     // the request is malformed or breaks a rule: fix it
	NotFound    Code = "not_found"   // the thing named does not exist
	Conflict    Code = "conflict"    // the request clashes with the current state
	TooLarge    Code = "too_large"   // the request body is over the limit
	Unavailable Code = "unavailable" // a dependency is down or shedding load: retry later
	Timeout     Code = "timeout"     // a dependency did not answer in time
	Internal    Code = "internal"    // a bug or an unexpected failure
	Unsupported Code = "unsupported" // e.g. the wrong media type
	NotAllowed  Code = "not_allowed" // the method is not allowed on the path
	Canceled    Code = "canceled"    // the caller gave up before the answer: nobody's fault here
	Overloaded  Code = "overloaded"  // shed to protect the service: retry after the Retry-After
	// RateLimited: this client sent more than its share; retry after the
	// Retry-After (the others are still served).
	RateLimited Code = "rate_limited"
	// HeadersTooLarge: the request's headers are over the limit.
	HeadersTooLarge Code = "headers_too_large"
	// Unauthenticated: no identity, or a token that is not valid, where
	// one is needed: send a valid bearer token.
	Unauthenticated Code = "unauthenticated"
	// Forbidden: the identity is known and may not do this.
	Forbidden Code = "forbidden"
)

// Error is an error with a Code and a message meant for the API caller.
type Error struct {
	Code    Code
	Message string
	Err     error // the cause, logged but never shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an Error with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an Error that keeps err as its cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf returns the Code of the first *Error in err's chain, Canceled for
// a caller's cancellation, Internal for anything else, and "" for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.Canceled) {
		return Canceled
	}
	return Internal
}

// MessageOf returns the caller-facing message: the *Error's message, or a
// generic one for anything else so internal details never leak.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Is reports whether err carries code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }
