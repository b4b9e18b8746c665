package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/carrental/carrental/svc/platform/errs"
)

// ClientRequest is the request of a ClientEndpoint: a path under the
// upstream's base URL, an optional JSON body and extra headers.
type ClientRequest struct {
	Path   string
	Query  url.Values
	Body   any
	Header http.Header
}

// ClientEndpoint is a go-kit client endpoint for calls to another service.
// Its response is a fresh value from newResponse, decoded from JSON. An
// error answer comes back as an *errs.Error with the upstream's code and
// message, so a 404 from payment stays a 404; a transport failure is
// errs.Unavailable (or the resilience layer's code).
func ClientEndpoint(c *http.Client, method, base, upstream string, newResponse func() any) endpoint.Endpoint {
	tgt, err := url.Parse(base)
	if err != nil {
		return func(context.Context, any) (any, error) {
			return nil, errs.Wrap(errs.Internal, err, "upstream %s: bad base URL %q", upstream, base)
		}
	}
	encode := func(_ context.Context, r *http.Request, request any) error {
		req := request.(ClientRequest)
		r.URL.Path = tgt.Path + req.Path
		r.URL.RawQuery = req.Query.Encode()
		for k, vs := range req.Header {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		if req.Body == nil {
			return nil
		}
		b, err := json.Marshal(req.Body)
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/json")
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		return nil
	}
	decode := func(_ context.Context, resp *http.Response) (any, error) {
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "%s: reading the answer", upstream)
		}
		if resp.StatusCode >= 400 {
			var eb ErrorBody
			code := CodeOfStatus(resp.StatusCode)
			msg := fmt.Sprintf("%s answered %d", upstream, resp.StatusCode)
			if json.Unmarshal(body, &eb) == nil && eb.Message != "" {
				msg = upstream + ": " + eb.Message
			}
			if eb.Code == errs.Overloaded {
				// A shed call stays a shed call for our caller too.
				code = errs.Overloaded
			}
			return nil, &errs.Error{Code: code, Message: msg}
		}
		out := newResponse()
		if out == nil || len(bytes.TrimSpace(body)) == 0 {
			return out, nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return nil, errs.Wrap(errs.Unavailable, err, "%s: unreadable answer", upstream)
		}
		return out, nil
	}
	call := kithttp.NewClient(method, tgt, encode, decode, kithttp.SetClient(c)).Endpoint()
	return func(ctx context.Context, request any) (any, error) {
		resp, err := call(ctx, request)
		if err == nil {
			return resp, nil
		}
		if code := errs.CodeOf(err); code != errs.Internal {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, errs.Wrap(errs.Timeout, err, "%s: the call was cut short", upstream)
		}
		return nil, errs.Wrap(errs.Unavailable, err, "%s is unreachable", upstream)
	}
}
