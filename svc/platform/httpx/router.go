package httpx

import (
	"context"
	"net/http"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/telemetry"
)

// Router is a ServeMux whose own 404 and 405 answers are JSON like every
// other error, so clients parse one error shape.
type Router struct {
	*http.ServeMux
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{ServeMux: http.NewServeMux()} }

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := rt.ServeMux.Handler(r)
	if pattern == "" {
		rt.ServeMux.ServeHTTP(&jsonFallback{ResponseWriter: w, ctx: r.Context(), path: r.URL.Path, method: r.Method}, r)
		return
	}
	telemetry.NameByRoute(r, pattern)
	rt.ServeMux.ServeHTTP(w, r)
}

// jsonFallback rewrites the mux's plain-text 404/405 into JSON errors and
// keeps the Allow header the mux sets for 405.
type jsonFallback struct {
	http.ResponseWriter
	ctx          context.Context
	path, method string
	replaced     bool
}

func (f *jsonFallback) WriteHeader(status int) {
	switch status {
	case http.StatusNotFound:
		f.replaced = true
		f.Header().Del("X-Content-Type-Options")
		WriteJSON(f.ResponseWriter, status, NewErrorBody(f.ctx, errs.NotFound, "no route for "+f.path))
	case http.StatusMethodNotAllowed:
		f.replaced = true
		WriteJSON(f.ResponseWriter, status, NewErrorBody(f.ctx, errs.NotAllowed, "method "+f.method+" is not allowed on "+f.path))
	default:
		f.ResponseWriter.WriteHeader(status)
	}
}

func (f *jsonFallback) Write(b []byte) (int, error) {
	if f.replaced {
		return len(b), nil
	}
	return f.ResponseWriter.Write(b)
}
