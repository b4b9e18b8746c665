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
	for _, r := range resources {
		spec, err := Spec(r.spec)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.kind, r.name, err)
		}
		_, err = apiextensions.NewCustomResource(ctx, r.kind+"-"+r.name, &apiextensions.CustomResourceArgs{
			ApiVersion:  pulumi.String(r.api),
			Kind:        pulumi.String(r.kind),
			Metadata:    &metav1.ObjectMetaArgs{Name: pulumi.String(r.name), Namespace: pulumi.String(args.Namespace)},
			OtherFields: kubernetes.UntypedArgs{"spec": spec},
		}, child)
		if err != nil {
			return nil, err
		}
	}
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{})
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
