package mesh

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/carrental/carrental/svc/contract"
)

// API versions of the Istio resources.
const (
	NetworkingAPI = "networking.istio.io/v1"
	SecurityAPI   = "security.istio.io/v1"
)

// PoliciesArgs configure the mesh policies.
type PoliciesArgs struct {
	Namespace string
	// IngressPrincipal is the ingress gateway's identity, allowed to call
	// the gateway service.
	IngressPrincipal string
	// Resilience is the profile (contract.Resilience*): the write-up's
	// demo pool on management only under its own.
	Resilience string
	// DependsOn (the Istio control plane) is applied to every policy.
	DependsOn []pulumi.Resource
	// Auth is who issues the tokens the mesh accepts; nil (authMode off)
	// declares no RequestAuthentication and requires no principal.
	Auth *AuthArgs
}

// AuthArgs are the two issuers of RequestAuth, as stack values: on AWS
// they are the Cognito pool's and the EKS cluster's outputs. Set one of
// UserJWKSURI and UserJWKS (the other empty).
type AuthArgs struct {
	UserIssuer, UserAudience, UserJWKSURI, UserJWKS pulumi.StringInput
	ServiceIssuer, ServiceJWKSURI                   pulumi.StringInput
}

// Policies are the mesh's traffic and security rules for the app.
type Policies struct {
	pulumi.ResourceState
}

// NewPolicies declares them; args.DependsOn must hold the Istio control
// plane, whose CRDs must exist first.
func NewPolicies(ctx *pulumi.Context, name string, args PoliciesArgs, opts ...pulumi.ResourceOption) (*Policies, error) {
	p := &Policies{}
	if err := ctx.RegisterComponentResource("carrental:mesh:Policies", name, p, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Composite(pulumi.Parent(p), pulumi.DependsOn(args.DependsOn))
	type resource struct {
		api, kind, name string
		spec            proto.Message
	}
	resources := []resource{
		{SecurityAPI, "PeerAuthentication", "default", StrictMTLS()},
		{NetworkingAPI, "Gateway", "ingress", IngressGateway()},
		{NetworkingAPI, "VirtualService", "ingress", IngressRoute(args.Namespace)},
	}
	services := contract.Services()
	sort.Slice(services, func(i, j int) bool { return services[i] < services[j] })
	for _, s := range services {
		if len(contract.Callers(s)) > 0 {
			resources = append(resources,
				resource{NetworkingAPI, "DestinationRule", string(s), CircuitBreaker(s, args.Resilience)},
				resource{NetworkingAPI, "VirtualService", string(s), Retries(s)})
		}
		resources = append(resources, resource{SecurityAPI, "AuthorizationPolicy", string(s), Allow(s, args.Namespace, args.IngressPrincipal)})
	}
	declare := func(api, kind, name string, spec any) error {
		_, err := apiextensions.NewCustomResource(ctx, kind+"-"+name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(api),
			Kind:        pulumi.String(kind),
			Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: pulumi.String(args.Namespace)},
			OtherFields: kubernetes.UntypedArgs{"spec": spec},
		}, child)
		return err
	}
	for _, r := range resources {
		spec, err := Spec(r.spec)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.kind, r.name, err)
		}
		if err := declare(r.api, r.kind, r.name, spec); err != nil {
			return nil, err
		}
	}
	if args.Auth != nil {
		for _, r := range AuthPolicies(args.Namespace, services) {
			// The issuers are outputs on AWS (the pool's ID, the cluster's
			// OIDC issuer): the spec is rendered once they are known.
			build := r.Build
			spec := pulumi.All(args.Auth.UserIssuer, args.Auth.UserAudience, args.Auth.UserJWKSURI, args.Auth.UserJWKS,
				args.Auth.ServiceIssuer, args.Auth.ServiceJWKSURI).ApplyT(func(v []any) (map[string]any, error) {
				users := Issuer{Issuer: v[0].(string), Audiences: []string{v[1].(string)}, JWKSURI: v[2].(string), JWKS: v[3].(string)}
				svcs := Issuer{Issuer: v[4].(string), Audiences: []string{contract.ServiceAudience}, JWKSURI: v[5].(string)}
				return Spec(build(users, svcs))
			}).(pulumi.MapOutput)
			if err := declare(SecurityAPI, r.Kind, r.Name, spec); err != nil {
				return nil, err
			}
		}
	}
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{})
}

// AuthPolicy is one identity policy, built from the two issuers.
type AuthPolicy struct {
	Kind, Name string
	Build      func(users, services Issuer) proto.Message
}

// AuthPolicies are the namespace's RequestAuthentication ("jwt"), every
// service's RequirePrincipal ("<service>-require-jwt") and, where a
// service has internal routes, its InternalOnly ("<service>-internal").
func AuthPolicies(namespace string, services []contract.Service) []AuthPolicy {
	out := []AuthPolicy{{"RequestAuthentication", "jwt", func(u, s Issuer) proto.Message { return RequestAuth(u, s) }}}
	for _, svc := range services {
		svc := svc
		out = append(out, AuthPolicy{"AuthorizationPolicy", string(svc) + "-require-jwt", func(Issuer, Issuer) proto.Message { return RequirePrincipal(svc) }})
		if InternalOnly(svc, namespace, "") != nil {
			out = append(out, AuthPolicy{"AuthorizationPolicy", string(svc) + "-internal", func(_, s Issuer) proto.Message {
				return InternalOnly(svc, namespace, s.Issuer)
			}})
		}
	}
	return out
}

// Spec turns an Istio API message into the map Kubernetes expects, with
// the JSON names Istio's CRDs use (e.g. consecutive5xxErrors, "10s").
func Spec(m proto.Message) (map[string]any, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}
