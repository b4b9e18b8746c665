package mesh

import (
	"regexp"
	"sort"

	security "istio.io/api/security/v1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"github.com/carrental/carrental/svc/contract"
)

// Issuer is one token issuer the mesh accepts: its iss, the audiences
// its tokens must name, and its keys, by URI (istiod fetches them) or
// inline.
type Issuer struct {
	Issuer    string
	Audiences []string
	JWKSURI   string
	JWKS      string
}

// OpsPaths are served to anyone on every service, as in the services
// themselves (docs/design-auth.md): probes, Prometheus, client writers.
// Only GET.
var OpsPaths = []string{contract.PathHealthz, contract.PathReadyz, contract.PathMetrics, "/openapi.json"}

// RequestAuth is the namespace's RequestAuthentication: the users' issuer
// and the cluster's ServiceAccount issuer, each with its audiences. A
// token that fails either rule is refused (401) by the sidecar before the
// service sees it; a request without one passes on to the policies below.
// The token is taken from the Authorization header only (Istio would also
// read ?access_token=, which the design refuses), and is forwarded, since
// every service validates it again and reservation passes the user's on
// to payment.
func RequestAuth(users, services Issuer) *security.RequestAuthentication {
	rule := func(i Issuer) *security.JWTRule {
		return &security.JWTRule{
			Issuer:               i.Issuer,
			Audiences:            i.Audiences,
			JwksUri:              i.JWKSURI,
			Jwks:                 i.JWKS,
			FromHeaders:          []*security.JWTHeader{{Name: "Authorization", Prefix: "Bearer "}},
			ForwardOriginalToken: true,
		}
	}
	return &security.RequestAuthentication{JwtRules: []*security.JWTRule{rule(users), rule(services)}}
}

var pathParam = regexp.MustCompile(`\{[^}/]+\}`)

// MeshPath turns an OpenAPI path (/carManagements/{carNo}/quote) into an
// AuthorizationPolicy path template matching one segment per parameter
// (/carManagements/{*}/quote).
func MeshPath(openAPIPath string) string { return pathParam.ReplaceAllString(openAPIPath, "{*}") }

// AnyonePaths are the GET paths of contract.PublicRoutes open to Anyone,
// plus OpsPaths, as mesh path templates, sorted.
func AnyonePaths() []string {
	seen := map[string]bool{}
	for _, p := range OpsPaths {
		seen[p] = true
	}
	for _, r := range contract.PublicRoutes() {
		if r.Access == contract.Anyone && r.Method == "GET" {
			seen[MeshPath(r.Path)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// RequirePrincipal is one service's DENY policy: a request without a
// valid token (no request principal) is refused (403) unless it is a GET
// of a route open to Anyone or of OpsPaths. Every route besides those
// needs a user's token or, on the calls a service makes as itself, the
// caller's ServiceAccount token, both of which RequestAuth validates. On
// the gateway this is the edge; on the others it holds for a request
// that skips the gateway.
func RequirePrincipal(s contract.Service) *security.AuthorizationPolicy {
	anonymous := []*security.Rule_From{{Source: &security.Source{NotRequestPrincipals: []string{"*"}}}}
	return &security.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": string(s)}},
		Action:   security.AuthorizationPolicy_DENY,
		Rules: []*security.Rule{
			{From: anonymous, To: []*security.Rule_To{{Operation: &security.Operation{NotMethods: []string{"GET"}}}}},
			{From: anonymous, To: []*security.Rule_To{{Operation: &security.Operation{Methods: []string{"GET"}, NotPaths: AnyonePaths()}}}},
		},
	}
}

// RequestPrincipal is how Istio names a token's identity: iss/sub.
func RequestPrincipal(issuer, subject string) string { return issuer + "/" + subject }

// route is one method and mesh path.
type route struct{ method, path string }

// InternalOnly is the DENY policy of a service with internal routes
// (under contract.InternalPathPrefix) in contract.ServiceCalls, or nil:
// each such route is refused unless it comes from its caller's workload
// (mTLS principal) carrying that caller's own ServiceAccount token (the
// request principal serviceIssuer/system:serviceaccount:<ns>:<caller>).
// Reservation's /internal/carReservations/{resrvNo}/rent and /return:
// rental only.
func InternalOnly(callee contract.Service, namespace, serviceIssuer string) *security.AuthorizationPolicy {
	callers := map[route][]contract.Service{}
	var routes []route
	for _, c := range contract.ServiceCalls()[callee] {
		if len(c.Path) < len(contract.InternalPathPrefix) || c.Path[:len(contract.InternalPathPrefix)] != contract.InternalPathPrefix {
			continue
		}
		r := route{c.Method, MeshPath(c.Path)}
		if _, ok := callers[r]; !ok {
			routes = append(routes, r)
		}
		callers[r] = append(callers[r], c.Caller)
	}
	if len(routes) == 0 {
		return nil
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].path+routes[i].method < routes[j].path+routes[j].method })
	var rules []*security.Rule
	for _, r := range routes {
		var peers, tokens []string
		for _, c := range callers[r] {
			peers = append(peers, ServiceAccountPrincipal(namespace, c))
			tokens = append(tokens, RequestPrincipal(serviceIssuer, contract.ServiceSubject(namespace, c)))
		}
		to := []*security.Rule_To{{Operation: &security.Operation{Methods: []string{r.method}, Paths: []string{r.path}}}}
		rules = append(rules,
			&security.Rule{From: []*security.Rule_From{{Source: &security.Source{NotPrincipals: peers}}}, To: to},
			&security.Rule{From: []*security.Rule_From{{Source: &security.Source{NotRequestPrincipals: tokens}}}, To: to})
	}
	// Any other method or path under the prefix has no caller at all.
	rules = append(rules, &security.Rule{To: []*security.Rule_To{{Operation: &security.Operation{
		Paths: []string{contract.InternalPathPrefix + "/*"}, NotPaths: internalPaths(routes),
	}}}})
	return &security.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": string(callee)}},
		Action:   security.AuthorizationPolicy_DENY,
		Rules:    rules,
	}
}

func internalPaths(routes []route) []string {
	var out []string
	for _, r := range routes {
		out = append(out, r.path)
	}
	return out
}
