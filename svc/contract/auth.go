package contract

import "time"

// Who may do what (docs/design-auth.md): end users carry an OIDC bearer
// token (a JWT) from the configured issuer — Amazon Cognito on AWS, the
// local issuer of `go run ./svc/cmd/carrental` here — and services carry
// their own identity (a Kubernetes projected ServiceAccount token in a
// pod, a token of the local issuer in the one-process run) on the calls
// that are theirs, not a user's. Both sides read these names from here:
// the services validate and authorize, infra/ configures the issuer, the
// mesh's RequestAuthentication and AuthorizationPolicies, and the pods'
// projected tokens.

// Roles an end user may hold, read from the token's roles claim (Cognito
// user-pool groups of the same names on AWS).
const (
	RoleStaff    = "staff"
	RoleCustomer = "customer"
)

// Roles lists the end-user roles in a stable order.
func Roles() []string { return []string{RoleStaff, RoleCustomer} }

// Roles claims: a JSON array of role names. The local issuer writes
// DefaultRolesClaim; Cognito puts a user's groups in CognitoRolesClaim.
const (
	DefaultRolesClaim = "groups"
	CognitoRolesClaim = "cognito:groups"
)

// DefaultAudience is the end users' token audience when none is
// configured (Cognito's is its app client ID).
const DefaultAudience = "carrental"

// ServiceAudience is the audience of every service-identity token: a
// projected ServiceAccount token minted for it is useless against the
// Kubernetes API, and a user's token is never taken for a service's.
const ServiceAudience = "carrental-internal"

// ServiceSubject is the subject of a service's identity token: the form
// Kubernetes gives a ServiceAccount token, whose name is the service's.
// The one-process local run uses namespace LocalNamespace.
func ServiceSubject(namespace string, s Service) string {
	return "system:serviceaccount:" + namespace + ":" + string(s)
}

// LocalNamespace is the namespace part of service subjects in the
// one-process local run.
const LocalNamespace = "local"

// Where a pod finds its projected service-identity token (kubelet
// rotates it; the service re-reads it), and how long one lives.
const (
	ServiceTokenDir      = "/var/run/secrets/carrental"
	ServiceTokenFile     = ServiceTokenDir + "/token"
	ServiceTokenLifetime = time.Hour
)

// Environment keys of authentication and abuse limits.
const (
	// EnvAuthMode is "jwt" (default: every request is authenticated as
	// below) or "off" (no identity checks at all: the benchmark's
	// baseline only; the service warns at start).
	EnvAuthMode = "AUTH_MODE"
	// End users' tokens: the issuer (its iss claim), the audience, and
	// where its keys are: a JWKS URI, or the key set inline (JSON).
	EnvAuthIssuer     = "AUTH_ISSUER"
	EnvAuthAudience   = "AUTH_AUDIENCE"
	EnvAuthJWKSURI    = "AUTH_JWKS_URI"
	EnvAuthJWKS       = "AUTH_JWKS"
	EnvAuthRolesClaim = "AUTH_ROLES_CLAIM"
	// Services' tokens: their issuer (the cluster's ServiceAccount
	// issuer) and its JWKS URI; the CA and bearer-token files to fetch
	// the JWKS from a Kubernetes API server that asks for them; and the
	// file this service's own token is read from.
	EnvServiceIssuer        = "SERVICE_AUTH_ISSUER"
	EnvServiceJWKSURI       = "SERVICE_AUTH_JWKS_URI"
	EnvServiceJWKSCAFile    = "SERVICE_AUTH_JWKS_CA_FILE"
	EnvServiceJWKSTokenFile = "SERVICE_AUTH_JWKS_TOKEN_FILE"
	EnvServiceTokenFile     = "SERVICE_TOKEN_FILE"
	// EnvNamespace is the pod's namespace (downward API): a caller's
	// service subject must name it.
	EnvNamespace = "POD_NAMESPACE"
	// Per-client limits at the gateway (client: the token's subject, or
	// the address when anonymous).
	EnvRateLimitRPS   = "RATE_LIMIT_RPS"
	EnvRateLimitBurst = "RATE_LIMIT_BURST"
	// EnvGatewayCacheTTL is how long the gateway answers a read of the car
	// list again without asking management (a duration; 0 turns it off).
	EnvGatewayCacheTTL = "GATEWAY_CACHE_TTL"
	// EnvTrustedProxyHops is how many proxies in front of the gateway
	// append to X-Forwarded-For (the ingress, a load balancer): 0 (the
	// default) takes the client's address from the connection; N takes
	// the N-th entry from the right of X-Forwarded-For, the one the
	// outermost trusted proxy wrote (entries left of it are the client's
	// own and may be forged).
	EnvTrustedProxyHops = "TRUSTED_PROXY_HOPS"
)

// The per-client limit when none is configured: a person at a browser,
// or a script of theirs, stays well under DefaultRateLimitRPS; a page
// firing its calls at once fits in DefaultRateLimitBurst.
const (
	DefaultRateLimitRPS   = 50
	DefaultRateLimitBurst = 100
)

// DefaultGatewayCacheTTL bounds how stale a read of the car list may be
// when it was changed through another gateway replica or by an event.
const DefaultGatewayCacheTTL = time.Second

// Auth modes (EnvAuthMode).
const (
	AuthJWT = "jwt"
	AuthOff = "off"
)

// The local issuer of the one-process run: its own listener, the OIDC
// discovery document and the key set a verifier fetches.
const (
	LocalIssuerPort   = 8086
	PathOIDCDiscovery = "/.well-known/openid-configuration"
	PathJWKS          = "/.well-known/jwks.json"
)

// MaxHeaderBytes bounds a request's headers, like a hardened edge proxy
// (Envoy's default is 60 KiB): more answers 431.
const MaxHeaderBytes = 60 << 10

// InternalPathPrefix prefixes the calls only services make to each other
// (reservation's /internal/carReservations/..., called by rental with its
// own identity). The gateway never routes it.
const InternalPathPrefix = "/internal"

// Access is who may call one route of the public API, before the owner's
// check on the object itself.
type Access string

const (
	// Anyone: no token needed (a token, if sent, must still be valid).
	Anyone Access = "anyone"
	// Customers: a customer (their own objects only) or staff.
	Customers Access = "customers"
	// Staff: staff only.
	Staff Access = "staff"
)

// Route is one operation of the public API and who may call it.
type Route struct {
	Method, Path string // Path as in the OpenAPI documents: /carManagements/{carNo}
	Access       Access
}

// PublicRoutes is the route/role table of the public API (README "Who may
// do what"). The services enforce it, each on its own routes, and the
// mesh's AuthorizationPolicy on the gateway requires a request principal
// on every route not open to Anyone. A route missing here is refused.
func PublicRoutes() []Route {
	return []Route{
		{"POST", PathCarManagements, Staff},
		{"GET", PathCarManagements, Staff},
		{"GET", PathCarManagements + "/{carNo}", Staff},
		{"PATCH", PathCarManagements + "/{carNo}", Staff},
		{"DELETE", PathCarManagements + "/{carNo}", Staff},
		{"GET", PathCarManagements + "/{carNo}/quote", Anyone},
		{"POST", PathCarReservations, Customers},
		{"GET", PathCarReservations, Customers},
		{"GET", PathCarReservations + "/{resrvNo}", Customers},
		{"POST", PathCarReservations + "/{resrvNo}/cancel", Customers},
		{"POST", PathPayments, Customers},
		{"GET", PathPayments, Customers},
		{"GET", PathPayments + "/{paymtNo}", Customers},
		{"POST", PathPayments + "/{paymtNo}/cancel", Customers},
		{"POST", PathCarRentals, Customers},
		{"GET", PathCarRentals, Customers},
		{"GET", PathCarRentals + "/{rentalNo}", Customers},
		{"POST", PathCarRentals + "/{rentalNo}/return", Customers},
		{"GET", PathCarInformations, Anyone},
		{"GET", PathCarInformations + "/{carNo}", Anyone},
	}
}

// ServiceCalls are the calls a service makes with its own identity, not
// a user's: callee -> the caller's routes on it. Every other call between
// services carries the end user's token it serves.
func ServiceCalls() map[Service][]ServiceCall {
	return map[Service][]ServiceCall{
		Management:  {{Reservation, "GET", PathCarManagements + "/{carNo}"}},
		Reservation: {{Rental, "POST", InternalPathPrefix + PathCarReservations + "/{resrvNo}/rent"}, {Rental, "POST", InternalPathPrefix + PathCarReservations + "/{resrvNo}/return"}},
	}
}

// ServiceCall is one route a caller service may call with its own identity.
type ServiceCall struct {
	Caller       Service
	Method, Path string
}
