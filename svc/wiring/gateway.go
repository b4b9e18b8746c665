package wiring

import (
	"context"
	"net/http"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/gateway"
	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/payment"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/clientlimit"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/platform/openapi"
	"github.com/carrental/carrental/svc/rental"
	"github.com/carrental/carrental/svc/reservation"
	"github.com/carrental/carrental/svc/view"
)

// Gateway routes the public paths to the services; it keeps no data.
func Gateway() host.Spec {
	return host.Spec{
		Service: contract.Gateway,
		API:     PublicAPI(),
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			h, err := gateway.New(d.Config.Upstream, d.HTTP.Transport, d.Log, d.Metrics, d.Config.GatewayCacheTTL, d.Registry)
			if err != nil {
				return nil, err
			}
			lim, err := GatewayLimiter(d.Config, ClientKey(d.Config.TrustedProxyHops))
			if err != nil {
				return nil, err
			}
			if err := d.Registry.Register(lim.Collector()); err != nil {
				return nil, err
			}
			// Forged tokens are refused before the limiter: each refusal
			// is charged to its address instead, so a flood of them stops
			// costing a signature check each.
			if g := lim.RefusalGuard(ClientAddress(d.Config.TrustedProxyHops)); g != nil && d.Auth != nil {
				d.Auth.GuardRefusals(g)
			}
			// The limiter admits into the gateway's MAX_IN_FLIGHT slots itself,
			// fairly per client, in place of the host's first-come limiter.
			// The host's auth middleware has put the identity in the context
			// (a bad token is 401 there); the limiter keys by it, and an
			// anonymous request for a route that needs an identity is 401
			// here, before any upstream is called, but after its client's
			// bucket: refusals cost a flooding client its own share.
			return &host.Built{Handler: lim.Middleware(auth.RequireIdentity(contract.PublicRoutes(), h)), OwnAdmission: true}, nil
		},
	}
}

// PublicAPI is what the gateway routes: each public path's operations, as
// the service that owns it describes them (api/openapi.json is this
// document, committed).
func PublicAPI() []openapi.Op {
	var ops []openapi.Op
	for _, part := range [][]openapi.Op{management.API(), reservation.Public(), payment.API(), rental.Public(), view.API()} {
		ops = append(ops, part...)
	}
	return ops
}

// GatewayLimiter is the gateway's per-client limit (RATE_LIMIT_RPS,
// RATE_LIMIT_BURST) and fair admission into its MAX_IN_FLIGHT slots, the
// client of a request named by key. Staff and service identities are to
// be exempt from the bucket once requests carry them (the Exempt hook).
func GatewayLimiter(cfg host.Config, key func(*http.Request) string) (*clientlimit.Limiter, error) {
	return clientlimit.New(clientlimit.Config{
		RPS: cfg.RateLimitRPS, Burst: cfg.RateLimitBurst, Slots: cfg.MaxInFlight,
		Key: key, Service: contract.Gateway,
	})
}

// ClientAddress keys a request by its client's address (behind hops
// trusted proxies).
func ClientAddress(hops int) func(*http.Request) string {
	return func(r *http.Request) string { return "addr:" + clientlimit.Address(r, hops) }
}

// ClientKey keys a request by its token's subject when it carries a
// valid one, else by its address, each in a key space of its own ("sub:"
// and "addr:"), so no subject can spend an address's bucket.
func ClientKey(hops int) func(*http.Request) string {
	byAddr := ClientAddress(hops)
	return func(r *http.Request) string {
		if id := auth.FromContext(r.Context()); id != nil && id.Kind != auth.Unchecked {
			return "sub:" + id.Subject
		}
		return byAddr(r)
	}
}
