package systemtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/openapi"
	"github.com/carrental/carrental/svc/wiring"
)

// contractChecker is a RoundTripper that holds every exchange with the
// gateway to the public OpenAPI document: the response's status, headers
// and body always (an undeclared field, a missing one, a wrong type fail
// the test), and the request whenever the system accepted it (a 2xx for a
// request the document calls invalid means the two disagree). Requests
// the test sends broken on purpose are refused by both, which is the point.
type contractChecker struct {
	t      testing.TB
	next   http.RoundTripper
	router routers.Router
}

func newContractChecker(t testing.TB, next http.RoundTripper) *contractChecker {
	t.Helper()
	doc, err := openapi.Document("carrental gateway", openapi.Version, wiring.PublicAPI())
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // any host: the gateway listens on a free port
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contractChecker{t: t, next: next, router: router}
}

func (c *contractChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := c.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if err != nil {
		return resp, err
	}
	if err := c.check(req, reqBody, resp, respBody); err != nil {
		c.t.Errorf("contract: %s %s -> %d %s: %v", req.Method, req.URL.RequestURI(), resp.StatusCode, bytes.TrimSpace(respBody), err)
	}
	return resp, nil
}

var hostPaths = map[string]bool{contract.PathHealthz: true, contract.PathReadyz: true, contract.PathMetrics: true, openapi.Path: true}

func (c *contractChecker) check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	checked := req.Clone(context.Background())
	checked.Body = io.NopCloser(bytes.NewReader(reqBody))
	if hostPaths[req.URL.Path] {
		return nil // what every service serves beside its API (probes, metrics, the document)
	}
	route, params, err := c.router.FindRoute(checked)
	if err != nil {
		// Not an operation of the API: only a JSON error may answer it.
		if resp.StatusCode < 400 {
			return fmt.Errorf("answered %d, but the document has no such operation (%v)", resp.StatusCode, err)
		}
		return nil
	}
	in := &openapi3filter.RequestValidationInput{Request: checked, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if resp.StatusCode/100 == 2 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("the system accepted a request the document calls invalid: %w", err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("the response is not what the document says: %w", err)
	}
	return nil
}

// The served document is the committed one's content, and valid.
func TestGatewayServesItsOpenAPIDocument(t *testing.T) {
	sys := startLocal(t, nil)
	gw := staffAPI(t, sys)
	r := gw.expect(http.StatusOK, http.MethodGet, openapi.Path, "")
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	for prefix := range contract.Routes() {
		if doc.Paths.Value(prefix) == nil {
			t.Errorf("the gateway's document lacks %s", prefix)
		}
	}
}
