package httpx

import (
	"net/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/errs"
)

// MaxHeaderBytes is the most a request's line and headers may take before
// it is refused with 431 (contract.MaxHeaderBytes, a hardened edge
// proxy's limit).
const MaxHeaderBytes = contract.MaxHeaderBytes

// serverHeaderBytes is what the http.Server itself reads before giving
// up. Go answers past its own limit with a plain-text 431, so it is set
// well above MaxHeaderBytes: everything between the two is measured by
// LimitHeaders and answered in JSON; only a request far over the limit
// meets Go's plain answer (a 431 all the same).
const serverHeaderBytes = 2 * MaxHeaderBytes

// LimitHeaders answers 431 with a JSON error when a request's line and
// headers are over MaxHeaderBytes.
func LimitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := HeaderBytes(r); n > MaxHeaderBytes {
			w.Header().Set("Connection", "close")
			EncodeError(r.Context(), errs.E(errs.HeadersTooLarge, "request headers are %d bytes, over the limit of %d", n, MaxHeaderBytes), w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// HeaderBytes is the size of r's request line and headers as they came on
// the wire in HTTP/1.1 ("Name: value\r\n" each; Host is kept apart from
// r.Header by net/http).
func HeaderBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n + 2
}
