package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/carrental/carrental/svc/platform/errs"
)

// MaxBodyBytes bounds every request body; the write-up's payloads are a few
// hundred bytes.
const MaxBodyBytes = 64 << 10

// DecodeJSON reads one JSON object from r's body into v. It rejects what a
// careless client sends: another media type, an empty or oversized body,
// malformed JSON, unknown fields, wrong types and trailing data. Every
// failure is an *errs.Error that names the problem.
func DecodeJSON(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.E(errs.Unsupported, "content type %q is not application/json", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errs.E(errs.TooLarge, "request body is larger than %d bytes", MaxBodyBytes)
		}
		return errs.Wrap(errs.Invalid, err, "request body could not be read")
	}
	return DecodeJSONBytes(body, v)
}

// DecodeJSONBytes is DecodeJSON's parsing half, for fuzzing and for bodies
// already in memory.
func DecodeJSONBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errs.E(errs.Invalid, "request body is empty; a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if dec.More() {
		return errs.E(errs.Invalid, "request body has data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errs.E(errs.Invalid, "request body has data after the JSON object")
	}
	return nil
}

func describeJSONError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		domainErr *errs.Error
	)
	switch {
	case errors.As(err, &domainErr):
		return domainErr
	case errors.As(err, &syntax):
		return errs.E(errs.Invalid, "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return errs.E(errs.Invalid, "request body must be a JSON object, not %s", typeErr.Value)
		}
		return errs.E(errs.Invalid, "field %q must be %s, not %s", typeErr.Field, kindName(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.E(errs.Invalid, "malformed JSON: the body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errs.E(errs.Invalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return errs.E(errs.Invalid, "malformed JSON: %v", err)
	}
}

func kindName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return fmt.Sprintf("a %s", kind)
}
