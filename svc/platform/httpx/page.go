package httpx

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-kit/kit/endpoint"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/value"
)

// Lists are paginated with ?limit=N&after=CURSOR. The body stays a JSON
// array (the write-up's clients read one), and a next page is announced
// the way GitHub's API does it, in a Link header (RFC 8288):
//
//	Link: </carManagements?after=Y2FyMDk&limit=100>; rel="next"
//
// The cursor is opaque to clients: the last key of the page, base64url.

// PageRequest is a list request's page and where it was asked, to build
// the next page's link from.
type PageRequest struct {
	value.Page
	Path  string
	Query url.Values
}

// DecodePage reads limit and after; a bad value is a 400.
func DecodePage(r *http.Request) (PageRequest, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	p := PageRequest{Page: value.Page{Limit: value.DefaultPageLimit}, Path: r.URL.Path, Query: q}
	if err != nil {
		return p, errs.E(errs.Invalid, "the query string is malformed: %v", err)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return p, errs.E(errs.Invalid, "limit %q is not a whole number", s)
		}
		p.Limit = n
	}
	if s := q.Get("after"); s != "" {
		key, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(key) == 0 {
			return p, errs.E(errs.Invalid, "after %q is not a cursor this API gave out", s)
		}
		p.After = string(key)
	}
	return p, p.Validate()
}

// Paged is a page of items answered as a JSON array with, when there is
// one, the next page's link.
type Paged[T any] struct {
	value.List[T]
	Request PageRequest
}

// Body is the array of items ([] when empty, never null).
func (p Paged[T]) Body() any {
	if p.Items == nil {
		return []T{}
	}
	return p.Items
}

// Headers carries the Link to the next page.
func (p Paged[T]) Headers() http.Header {
	h := http.Header{}
	if p.Next == "" {
		return h
	}
	q := url.Values{}
	for k, v := range p.Request.Query {
		q[k] = v
	}
	q.Set("after", base64.RawURLEncoding.EncodeToString([]byte(p.Next)))
	q.Set("limit", strconv.Itoa(p.Request.Limit))
	h.Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, p.Request.Path, q.Encode()))
	return h
}

// DecodePageRequest is DecodePage as a go-kit DecodeRequestFunc.
func DecodePageRequest(_ context.Context, r *http.Request) (any, error) { return DecodePage(r) }

// ListEndpoint makes the go-kit endpoint of a paginated list.
func ListEndpoint[T any](list func(ctx context.Context, r PageRequest) (value.List[T], error)) endpoint.Endpoint {
	return func(ctx context.Context, req any) (any, error) {
		pr := req.(PageRequest)
		l, err := list(ctx, pr)
		if err != nil {
			return nil, err
		}
		return Paged[T]{List: l, Request: pr}, nil
	}
}
