// Package gateway is the single entry point (the write-up's
// http://gateway:8080): it routes each public path prefix of
// contract.Routes() to the service that owns it and nothing else — no
// internal paths, no admin ports.
package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/telemetry"
)

// Upstreams gives the base URL of each routed service.
type Upstreams func(contract.Service) string

// CachedCollections are the collections whose reads the gateway answers
// from its read cache (see readCache): the car list, read far more often
// than it changes, the same for every member of staff.
var CachedCollections = []string{contract.PathCarManagements}

// New returns the gateway handler. transport carries the calls (the
// resilience transport in production); cacheTTL is how long a read of a
// CachedCollections page is answered again without asking upstream (0:
// never); the cache's counter (MetricReadCache) is registered with reg.
func New(upstreams Upstreams, transport http.RoundTripper, log *slog.Logger, m *endpointmw.Metrics, cacheTTL time.Duration, reg prometheus.Registerer) (http.Handler, error) {
	reads := NewReadCacheCounter()
	if err := reg.Register(reads); err != nil {
		return nil, err
	}
	r := httpx.NewRouter()
	for prefix, svc := range contract.Routes() {
		target, err := url.Parse(upstreams(svc))
		if err != nil {
			return nil, err
		}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport:    transport,
			ErrorHandler: proxyError(svc, log),
		}
		var upstream http.Handler = proxy
		if cacheTTL > 0 && slices.Contains(CachedCollections, prefix) {
			upstream = newReadCache(prefix, cacheTTL, reads).handler(proxy)
		}
		h := instrument(string(svc), upstream, m)
		// The prefix itself and everything below it; "/carManagementsX" is
		// another path and falls through to the JSON 404.
		r.Handle(prefix, h)
		r.Handle(prefix+"/", h)
	}
	return r, nil
}

// proxyError answers an upstream failure in the shared JSON error shape.
func proxyError(svc contract.Service, log *slog.Logger) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case errs.CodeOf(err) != errs.Internal:
			// The resilience layer already said what happened (breaker
			// open, limit reached, timeout).
		case errors.Is(err, context.DeadlineExceeded):
			err = errs.Wrap(errs.Timeout, err, "%s did not answer in time", svc)
		case r.Context().Err() != nil:
			return // the client left
		default:
			err = errs.Wrap(errs.Unavailable, err, "%s is unavailable", svc)
		}
		log.WarnContext(r.Context(), "upstream failed", "service", svc, "path", r.URL.Path, "err", err)
		httpx.EncodeError(r.Context(), err, w)
	}
}

// instrument counts and times requests per routed service and status.
func instrument(route string, next http.Handler, m *endpointmw.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := telemetry.NewStatusRecorder(w)
		next.ServeHTTP(rec, r)
		m.Record(route, Outcome(rec.Status), time.Since(start))
	})
}

// Outcome names a proxied answer in the other services' outcome
// vocabulary (contract.LabelOutcome), so one availability objective reads
// all six: ok below 400, else the error code the status stands for. A 4xx
// with no code of its own keeps its number, so a client's error never
// reads as one of contract.ServerErrorOutcomes.
func Outcome(status int) string {
	switch code := httpx.CodeOfStatus(status); {
	case status < 400:
		return contract.OutcomeOK
	case status < 500 && httpx.StatusOf(code) != status:
		return strconv.Itoa(status)
	default:
		return string(code)
	}
}
