package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/httpx"
)

// Config is how a service checks identities, read from the environment
// (contract.EnvAuth*, contract.EnvService*).
type Config struct {
	Mode                            string // contract.AuthJWT or contract.AuthOff
	Issuer, Audience, JWKSURI, JWKS string
	RolesClaim                      string
	ServiceIssuer, ServiceJWKSURI   string
	ServiceJWKSCAFile               string
	ServiceJWKSTokenFile            string
	ServiceTokenFile                string
	Namespace                       string
}

// ConfigFromEnv reads Config; AUTH_MODE other than jwt or off is an error.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Mode: get(contract.EnvAuthMode, contract.AuthJWT), Issuer: get(contract.EnvAuthIssuer, ""),
		Audience: get(contract.EnvAuthAudience, contract.DefaultAudience), JWKSURI: get(contract.EnvAuthJWKSURI, ""),
		JWKS: get(contract.EnvAuthJWKS, ""), RolesClaim: get(contract.EnvAuthRolesClaim, contract.DefaultRolesClaim),
		ServiceIssuer: get(contract.EnvServiceIssuer, ""), ServiceJWKSURI: get(contract.EnvServiceJWKSURI, ""),
		ServiceJWKSCAFile: get(contract.EnvServiceJWKSCAFile, ""), ServiceJWKSTokenFile: get(contract.EnvServiceJWKSTokenFile, ""),
		ServiceTokenFile: get(contract.EnvServiceTokenFile, contract.ServiceTokenFile),
		Namespace:        get(contract.EnvNamespace, contract.LocalNamespace),
	}
	switch c.Mode {
	case contract.AuthJWT:
		if c.Issuer == "" {
			return c, fmt.Errorf("%s is required (or %s=%s to run without identity checks)", contract.EnvAuthIssuer, contract.EnvAuthMode, contract.AuthOff)
		}
		if (c.JWKSURI == "") == (c.JWKS == "") {
			return c, fmt.Errorf("%s: set exactly one of %s and %s", contract.EnvAuthIssuer, contract.EnvAuthJWKSURI, contract.EnvAuthJWKS)
		}
		if (c.ServiceIssuer == "") != (c.ServiceJWKSURI == "") {
			return c, fmt.Errorf("set both %s and %s, or neither", contract.EnvServiceIssuer, contract.EnvServiceJWKSURI)
		}
	case contract.AuthOff:
	default:
		return c, fmt.Errorf("%s=%q: want %s or %s", contract.EnvAuthMode, c.Mode, contract.AuthJWT, contract.AuthOff)
	}
	return c, nil
}

// Authenticator tells who a request is for one service.
type Authenticator struct {
	self      contract.Service
	off       bool
	users     *Verifier
	services  *Verifier // nil: no service identities accepted
	namespace string
	// serviceRoutes: the routes of self each caller may call with its
	// own identity (contract.ServiceCalls).
	serviceRoutes map[contract.Service]*Routes
	log           *slog.Logger
	refusals      Refusals // nil: refused tokens cost nothing more
}

// Refusals bounds what refused tokens cost (clientlimit.RefusalGuard):
// every refusal is charged to its client, and a client that has spent
// its share is answered by Admit before its next token is checked.
type Refusals interface {
	// Admit says whether r's token may be checked; when not, it has
	// answered r itself.
	Admit(w http.ResponseWriter, r *http.Request) bool
	// Refused charges a refused token to r's client.
	Refused(r *http.Request)
}

// GuardRefusals makes the Middleware charge refused tokens to g (the
// gateway's: the one service the internet reaches). Call it before the
// service serves.
func (a *Authenticator) GuardRefusals(g Refusals) { a.refusals = g }

// New builds the authenticator of service self.
func New(self contract.Service, c Config, log *slog.Logger) (*Authenticator, error) {
	a := &Authenticator{self: self, namespace: c.Namespace, log: log, serviceRoutes: map[contract.Service]*Routes{}}
	if c.Mode == contract.AuthOff {
		a.off = true
		log.Warn("AUTH_MODE=off: no identity is checked, every request may do anything (benchmark baseline only)")
		return a, nil
	}
	var keys KeySet
	var err error
	if c.JWKS != "" {
		keys, err = NewStaticKeys(c.JWKS)
	} else {
		keys, err = NewRemoteKeys(c.JWKSURI, RemoteOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", contract.EnvAuthIssuer, err)
	}
	a.users = &Verifier{Kind: User, Issuer: c.Issuer, Audience: c.Audience, RolesClaim: c.RolesClaim, Keys: keys}
	if c.ServiceIssuer != "" {
		sk, err := NewRemoteKeys(c.ServiceJWKSURI, RemoteOptions{CAFile: c.ServiceJWKSCAFile, BearerTokenFile: c.ServiceJWKSTokenFile})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", contract.EnvServiceJWKSURI, err)
		}
		a.services = &Verifier{Kind: ServiceKind, Issuer: c.ServiceIssuer, Audience: contract.ServiceAudience, Keys: sk}
	}
	calls := map[contract.Service][]contract.Route{}
	for _, call := range contract.ServiceCalls()[self] {
		calls[call.Caller] = append(calls[call.Caller], contract.Route{Method: call.Method, Path: call.Path})
	}
	for caller, routes := range calls {
		a.serviceRoutes[caller] = NewRoutes(routes)
	}
	return a, nil
}

// Off reports whether checks are off (AUTH_MODE=off).
func (a *Authenticator) Off() bool { return a.off }

// Query parameters a token must never travel in (logs, Referer and
// proxies keep URLs): a request carrying one is refused.
var tokenParams = []string{"access_token", "id_token", "token", "jwt"}

// Authenticate is the request's identity: nil when it carries none, an
// error (ErrInvalidToken) when what it carries is not a valid token.
func (a *Authenticator) Authenticate(r *http.Request) (*Identity, error) {
	if a.off {
		return &Identity{Kind: Unchecked, Subject: "anonymous"}, nil
	}
	q := r.URL.Query()
	for _, p := range tokenParams {
		if q.Has(p) {
			return nil, fmt.Errorf("%w: a token in the query string (%s) is not accepted: send it in the Authorization header", ErrInvalidToken, p)
		}
	}
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return nil, nil
	}
	if len(h) > 1 {
		return nil, fmt.Errorf("%w: more than one Authorization header", ErrInvalidToken)
	}
	raw, ok := bearer(h[0])
	if !ok {
		return nil, fmt.Errorf("%w: want Authorization: Bearer <token>", ErrInvalidToken)
	}
	// A token already verified here needs no parsing either: the gateway
	// and every service see the same token on every request.
	if id, ok := a.cachedIdentity(raw); ok {
		return id, nil
	}
	tok, err := jwt.ParseSigned(raw, Algorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	iss := issuerOf(tok)
	var last error = fmt.Errorf("%w: issuer %q is not trusted", ErrInvalidToken, iss)
	// The users' and the services' issuer may be one (the local run):
	// the audience then tells them apart.
	for _, v := range []*Verifier{a.users, a.services} {
		if v == nil || v.Issuer != iss {
			continue
		}
		id, err := v.verify(r.Context(), raw, tok)
		if err == nil {
			return id, nil
		}
		last = err
	}
	return nil, last
}

// Middleware puts the request's identity in its context. A bad token
// answers 401 invalid_token; a service identity is refused (403) outside
// the routes contract.ServiceCalls gives its caller here, or from
// another namespace. An anonymous request passes: the service layer
// decides what anonymous may do.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A token verified before is let through whatever its address
		// has spent: clients behind one address with a flooder.
		if a.refusals != nil && len(r.Header.Values("Authorization")) > 0 && !a.verifiedBefore(r) && !a.refusals.Admit(w, r) {
			return
		}
		id, err := a.Authenticate(r)
		if err != nil {
			if a.refusals != nil {
				a.refusals.Refused(r)
			}
			a.log.InfoContext(r.Context(), "token refused", "method", r.Method, "path", r.URL.Path, "err", err)
			RefuseToken(w, r)
			return
		}
		if id != nil && id.Kind == ServiceKind {
			if id.Namespace != a.namespace {
				httpx.EncodeError(r.Context(), errs.E(errs.Forbidden, "service %s of namespace %s may not call %s of namespace %s", id.Service, id.Namespace, a.self, a.namespace), w)
				return
			}
			if rt := a.serviceRoutes[id.Service]; rt == nil || !rt.Has(r) {
				httpx.EncodeError(r.Context(), errs.E(errs.Forbidden, "service %s may not call %s %s with its own identity", id.Service, r.Method, r.URL.Path), w)
				return
			}
		}
		if id != nil {
			r = r.WithContext(WithIdentity(r.Context(), id))
		}
		next.ServeHTTP(w, r)
	})
}

// verifiedBefore says whether r's bearer token is one a verifier holds
// as verified (and not yet expired): no parsing, a map lookup.
func (a *Authenticator) verifiedBefore(r *http.Request) bool {
	if a.off {
		return true
	}
	raw, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return false
	}
	_, ok = a.cachedIdentity(raw)
	return ok
}

// bearer is the token of an Authorization header's value, when it is
// "Bearer <token>".
func bearer(header string) (string, bool) {
	scheme, raw, ok := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	return raw, ok && strings.EqualFold(scheme, "Bearer") && raw != ""
}

// cachedIdentity is the identity of raw when the users' or the services'
// verifier holds it as verified.
func (a *Authenticator) cachedIdentity(raw string) (*Identity, bool) {
	for _, v := range []*Verifier{a.users, a.services} {
		if v == nil {
			continue
		}
		if id, ok := v.cached(raw); ok {
			return id, true
		}
	}
	return nil, false
}

// RefuseToken answers 401 for a token that is not valid.
func RefuseToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", httpx.BearerChallenge+`, error="invalid_token"`)
	httpx.EncodeError(r.Context(), errs.E(errs.Unauthenticated, "the bearer token is not valid"), w)
}

// RequireIdentity refuses anonymous requests (401) except on the routes
// open to contract.Anyone: the gateway's check, before any upstream is
// called. Run it after Middleware.
func RequireIdentity(routes []contract.Route, next http.Handler) http.Handler {
	var open []contract.Route
	for _, rt := range routes {
		if rt.Access == contract.Anyone {
			open = append(open, rt)
		}
	}
	anyone := NewRoutes(open)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if FromContext(r.Context()) == nil && !anyone.Has(r) {
			httpx.EncodeError(r.Context(), ErrAnonymous, w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Routes matches requests against a set of routes (OpenAPI-style paths,
// /carManagements/{carNo}) the way the services' routers do.
type Routes struct{ mux *http.ServeMux }

// NewRoutes is a matcher for routes.
func NewRoutes(routes []contract.Route) *Routes {
	mux := http.NewServeMux()
	for _, rt := range routes {
		mux.Handle(rt.Method+" "+rt.Path, http.NotFoundHandler())
	}
	return &Routes{mux: mux}
}

// Has reports whether r is one of the routes.
func (t *Routes) Has(r *http.Request) bool {
	_, pattern := t.mux.Handler(r)
	return pattern != ""
}

// ErrAnonymous is a request with no identity on a route that needs one.
var ErrAnonymous = errs.E(errs.Unauthenticated, "this needs a bearer token (Authorization: Bearer <token>)")

// RequireStaff lets staff through, and the services named (their own
// identity, already held to their routes by Middleware).
func RequireStaff(ctx context.Context, services ...contract.Service) error {
	id := FromContext(ctx)
	switch {
	case id == nil:
		return ErrAnonymous
	case id.Has(contract.RoleStaff):
		return nil
	case id.Kind == ServiceKind:
		for _, s := range services {
			if id.Service == s {
				return nil
			}
		}
	}
	return errs.E(errs.Forbidden, "only staff may do this")
}

// RequireService lets through only service s's own identity (and
// AUTH_MODE=off).
func RequireService(ctx context.Context, s contract.Service) error {
	id := FromContext(ctx)
	switch {
	case id == nil:
		return ErrAnonymous
	case id.Kind == Unchecked, id.Kind == ServiceKind && id.Service == s:
		return nil
	}
	return errs.E(errs.Forbidden, "only %s may do this", s)
}

// Owner is whose objects the caller may see: "" for everyone's (staff),
// the subject for a customer. Anonymous is 401; a user with neither role
// is 403.
func Owner(ctx context.Context) (string, error) {
	id := FromContext(ctx)
	switch {
	case id == nil:
		return "", ErrAnonymous
	case id.Has(contract.RoleStaff):
		return "", nil
	case id.Has(contract.RoleCustomer):
		return id.Subject, nil
	}
	return "", errs.E(errs.Forbidden, "this needs the %s or %s role", contract.RoleCustomer, contract.RoleStaff)
}

// MaySee reports whether the caller may see an object of customer
// custNo: staff may see all, a customer their own. Callers answer
// "not found" when not, exactly as for a missing object.
func MaySee(ctx context.Context, custNo string) bool {
	owner, err := Owner(ctx)
	return err == nil && (owner == "" || owner == custNo)
}

// Transport adds the identity to each outgoing call: the service's own
// token on a call marked AsService, else the token of the user the call
// is made for. A request that already has an Authorization header keeps
// it.
type Transport struct {
	Base http.RoundTripper
	// ServiceToken is this service's own token; nil when it has none.
	ServiceToken func(ctx context.Context) (string, error)
}

type asServiceKey struct{}

// AsService marks ctx's calls as the service's own business: they carry
// the service's identity, not the user's.
func AsService(ctx context.Context) context.Context {
	return context.WithValue(ctx, asServiceKey{}, true)
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") != "" {
		return t.Base.RoundTrip(r)
	}
	var tok string
	if own, _ := r.Context().Value(asServiceKey{}).(bool); own {
		if t.ServiceToken != nil {
			var err error
			if tok, err = t.ServiceToken(r.Context()); err != nil {
				if r.Body != nil {
					r.Body.Close()
				}
				return nil, errs.Wrap(errs.Internal, err, "this service has no identity token to call with")
			}
		}
	} else if id := FromContext(r.Context()); id != nil {
		tok = id.Token
	}
	if tok != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return t.Base.RoundTrip(r)
}

// SignerTokens mints s's service tokens in process (the one-process
// local run), each reused until ten minutes before it expires.
func SignerTokens(s *Signer, namespace string, self contract.Service) func(context.Context) (string, error) {
	var (
		tok     string
		expires time.Time
	)
	mu := make(chan struct{}, 1)
	return func(ctx context.Context) (string, error) {
		mu <- struct{}{}
		defer func() { <-mu }()
		if tok != "" && time.Until(expires) > 10*time.Minute {
			return tok, nil
		}
		t, err := s.Mint(Token{Subject: contract.ServiceSubject(namespace, self), Audience: contract.ServiceAudience, TTL: contract.ServiceTokenLifetime})
		if err != nil {
			return "", err
		}
		tok, expires = t, time.Now().Add(contract.ServiceTokenLifetime)
		return tok, nil
	}
}

// IsInvalidToken reports whether err is a refused token.
func IsInvalidToken(err error) bool { return errors.Is(err, ErrInvalidToken) }

// AsStaff is ctx carrying a staff identity: for code that acts on the
// operator's behalf without a request (tests, tools).
func AsStaff(ctx context.Context) context.Context {
	return WithIdentity(ctx, &Identity{Kind: User, Subject: "staff01", Roles: []string{contract.RoleStaff}})
}
