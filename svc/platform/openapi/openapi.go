// Package openapi describes a service's HTTP API as an OpenAPI 3 document
// built from the Go types its handlers decode and encode, so the document
// cannot say something the code does not: the request and response
// schemas are generated from those types (kin-openapi's openapi3gen), every
// object refuses properties it does not declare, every error is the one
// JSON shape of httpx.ErrorBody, and lists carry the pagination of
// httpx.Paged. The system test validates every request and response of the
// rental story against the public document.
package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3gen"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/value"
)

// Op is one operation: a method on a path (with {params}), what it reads
// and what it answers.
type Op struct {
	Method  string
	Path    string
	Summary string
	// Body is a value of the request body's type; nil for none.
	Body any
	// Query are the query parameters besides a list's limit and after.
	Query []Param
	// Responses maps each success status to a value of its body's type
	// (nil: no body). Errors need no entry: every status of 400 and above
	// answers httpx.ErrorBody.
	Responses map[int]any
	// Paged marks a list: limit and after in the query, a JSON array of
	// the 200 response's type, and a Link header to the next page.
	Paged bool
	// Idempotent says the operation reads an Idempotency-Key header.
	Idempotent bool
}

// Param is a query parameter.
type Param struct {
	Name, Description string
	Schema            *openapi3.Schema
	Required          bool
}

// BearerScheme names the security scheme of the bearer token.
const BearerScheme = "bearer"

// Document builds the OpenAPI document of ops.
func Document(title, version string, ops []Op) (*openapi3.T, error) {
	doc := &openapi3.T{
		OpenAPI: "3.0.3",
		Info: &openapi3.Info{Title: title, Version: version,
			Description: "Generated from the Go types of the handlers (svc/platform/openapi)."},
		Paths: openapi3.NewPaths(),
		Components: &openapi3.Components{Schemas: openapi3.Schemas{}, SecuritySchemes: openapi3.SecuritySchemes{
			BearerScheme: &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme().WithDescription(
				"An OIDC access token of the configured issuer (README \"Who may do what\"), in the Authorization header only: " +
					"a token in the query string answers 401.")},
		}},
	}
	access := map[string]contract.Access{}
	for _, rt := range contract.PublicRoutes() {
		access[rt.Method+" "+rt.Path] = rt.Access
	}
	errSchema, err := schemaOf(httpx.ErrorBody{})
	if err != nil {
		return nil, err
	}
	required(errSchema.Value, reflect.TypeOf(httpx.ErrorBody{}))
	if tid := errSchema.Value.Properties["traceId"]; tid != nil {
		tid.Value.Pattern = "^[0-9a-f]{32}$"
		tid.Value.Description = "the request's W3C trace ID (absent when tracing is off): find its spans and log lines by it"
	}
	doc.Components.Schemas["Error"] = errSchema
	errorRef := &openapi3.ResponseRef{Value: openapi3.NewResponse().
		WithDescription("An error: the status says which kind, code and message say what.").
		WithJSONSchemaRef(openapi3.NewSchemaRef("#/components/schemas/Error", errSchema.Value))}
	for _, op := range ops {
		operation, err := op.operation(errorRef)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s %s: %w", op.Method, op.Path, err)
		}
		bearer := openapi3.SecurityRequirement{BearerScheme: []string{}}
		switch a, public := access[op.Method+" "+op.Path]; {
		case public && a == contract.Anyone:
			// Optional: anonymous, or a token that must then be valid.
			operation.Security = &openapi3.SecurityRequirements{openapi3.SecurityRequirement{}, bearer}
		case public, strings.HasPrefix(op.Path, contract.InternalPathPrefix+"/"):
			operation.Security = &openapi3.SecurityRequirements{bearer}
		}
		item := doc.Paths.Value(op.Path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(op.Path, item)
		}
		if item.GetOperation(op.Method) != nil {
			return nil, fmt.Errorf("openapi: %s %s described twice", op.Method, op.Path)
		}
		item.SetOperation(op.Method, operation)
	}
	return doc, nil
}

func (op Op) operation(errorRef *openapi3.ResponseRef) (*openapi3.Operation, error) {
	o := &openapi3.Operation{Summary: op.Summary, Responses: openapi3.NewResponses()}
	o.Responses.Delete("default")
	for _, name := range pathParams(op.Path) {
		o.AddParameter(openapi3.NewPathParameter(name).WithSchema(openapi3.NewStringSchema()))
	}
	for _, q := range op.Query {
		p := openapi3.NewQueryParameter(q.Name).WithSchema(q.Schema).WithDescription(q.Description)
		p.Required = q.Required
		o.AddParameter(p)
	}
	if op.Paged {
		limit := openapi3.NewIntegerSchema().WithMin(1).WithMax(float64(value.MaxPageLimit))
		o.AddParameter(openapi3.NewQueryParameter("limit").WithSchema(limit).
			WithDescription(fmt.Sprintf("items per page (default %d)", value.DefaultPageLimit)))
		o.AddParameter(openapi3.NewQueryParameter("after").WithSchema(openapi3.NewStringSchema()).
			WithDescription("the cursor of the Link header's next page; opaque"))
	}
	if op.Idempotent {
		o.AddParameter(openapi3.NewHeaderParameter("Idempotency-Key").WithSchema(openapi3.NewStringSchema()).
			WithDescription("repeats of one key answer the first outcome (200) instead of acting again"))
	}
	if op.Body != nil {
		s, err := schemaOf(op.Body)
		if err != nil {
			return nil, err
		}
		o.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithRequired(true).WithJSONSchemaRef(s)}
	}
	statuses := make([]int, 0, len(op.Responses))
	for status := range op.Responses {
		statuses = append(statuses, status)
	}
	sort.Ints(statuses)
	for _, status := range statuses {
		resp := openapi3.NewResponse().WithDescription(http.StatusText(status))
		if body := op.Responses[status]; body != nil {
			s, err := schemaOf(body)
			if err != nil {
				return nil, err
			}
			required(s.Value, reflect.TypeOf(body))
			if op.Paged && status == http.StatusOK {
				s = openapi3.NewSchemaRef("", openapi3.NewArraySchema().WithItems(s.Value))
				resp.Headers = openapi3.Headers{"Link": &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
					Description: `the next page, when there is one: <path?after=CURSOR&limit=N>; rel="next"`,
					Schema:      openapi3.NewSchemaRef("", openapi3.NewStringSchema()),
				}}}}
			}
			resp.WithJSONSchemaRef(s)
		}
		o.Responses.Set(fmt.Sprint(status), &openapi3.ResponseRef{Value: resp})
	}
	o.Responses.Set("default", errorRef)
	return o, nil
}

func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.Trim(seg, "{}"))
		}
	}
	return out
}

var (
	amountType = reflect.TypeOf(value.Amount(0))
	dateType   = reflect.TypeOf(value.Date(""))
	timeType   = reflect.TypeOf(time.Time{})
)

// schemaOf generates the schema of v's type: objects closed to undeclared
// properties, the write-up's amounts (a number or a string of digits) and
// days (yyyyMMdd) as they are decoded.
func schemaOf(v any) (*openapi3.SchemaRef, error) {
	return openapi3gen.NewSchemaRefForValue(v, nil, openapi3gen.SchemaCustomizer(
		func(_ string, t reflect.Type, _ reflect.StructTag, s *openapi3.Schema) error {
			switch {
			case t == amountType:
				*s = openapi3.Schema{OneOf: openapi3.SchemaRefs{
					openapi3.NewSchemaRef("", openapi3.NewInt64Schema().WithMin(1).WithMax(value.MaxAmount)),
					openapi3.NewSchemaRef("", openapi3.NewStringSchema().WithPattern(`^[0-9]+$`)),
				}, Description: "a whole amount in won: a number, or a string of digits as the write-up sends it"}
			case t == dateType:
				*s = *openapi3.NewStringSchema().WithPattern(`^[0-9]{8}$`)
				s.Description = "a day, yyyyMMdd"
			case t == timeType:
			case s.Type.Is(openapi3.TypeObject) && t.Kind() == reflect.Struct:
				s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
			}
			return nil
		}))
}

// required marks the fields a response always carries (those without
// omitempty), so a response that lacks one fails validation as surely as
// one with a field the schema does not declare.
func required(s *openapi3.Schema, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if s == nil || t.Kind() != reflect.Struct || len(s.Properties) == 0 {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		prop := s.Properties[name]
		if prop == nil {
			continue
		}
		if !strings.Contains(opts, "omitempty") {
			s.Required = append(s.Required, name)
		}
		required(prop.Value, f.Type)
	}
}

// Handler serves doc as JSON (the document is built once).
func Handler(doc *openapi3.T) (http.Handler, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}), nil
}

// Path is where every service serves its document.
const Path = "/openapi.json"

// Version is the API's version in the documents: the write-up's paths and
// payloads, plus pagination.
const Version = "1.0.0"
