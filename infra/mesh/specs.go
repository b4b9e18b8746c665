// Package mesh declares the Istio traffic and security policies from
// Istio's own Go API types (istio.io/api), so a misspelt field does not
// compile, and hands them to the Kubernetes provider as custom resources
// of networking.istio.io/v1 and security.istio.io/v1.
package mesh

import (
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	networking "istio.io/api/networking/v1"
	security "istio.io/api/security/v1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"github.com/carrental/carrental/svc/contract"
)

// CircuitBreaker is one service's DestinationRule: the write-up's
// outlier detection (eject a host after 5 consecutive 5xx, checked every
// 10s, for 30s, up to every host) on every service that has callers, and,
// under the write-up's profile, its demo connection pool on management
// (one connection, one pending request, one request per connection). The
// write-up used consecutiveErrors, which is deprecated and counts only
// gateway errors (502/503/504); consecutive5xxErrors counts every 5xx.
func CircuitBreaker(s contract.Service, profile string) *networking.DestinationRule {
	policy := &networking.TrafficPolicy{
		OutlierDetection: &networking.OutlierDetection{
			Consecutive_5XxErrors: wrapperspb.UInt32(contract.Consecutive5xxErrors),
			Interval:              durationpb.New(contract.OutlierInterval),
			BaseEjectionTime:      durationpb.New(contract.BaseEjectionTime),
			MaxEjectionPercent:    contract.MaxEjectionPercent,
		},
	}
	if s == contract.Management && profile == contract.ResilienceWriteUp {
		policy.ConnectionPool = &networking.ConnectionPoolSettings{
			Tcp: &networking.ConnectionPoolSettings_TCPSettings{MaxConnections: contract.WriteUpMaxConnections},
			Http: &networking.ConnectionPoolSettings_HTTPSettings{
				Http1MaxPendingRequests:  contract.WriteUpHTTP1MaxPendingRequests,
				MaxRequestsPerConnection: contract.WriteUpMaxRequestsPerConnection,
			},
		}
	}
	return &networking.DestinationRule{Host: string(s), TrafficPolicy: policy}
}

// RetryOn retries a 500 — the write-up's retry test answered 500 to every
// request because Istio's default retryOn (connect-failure,
// refused-stream, unavailable, cancelled, retriable-status-codes) does not
// retry a plain 500, so its retries never fired — and 502/504 and broken
// connections, but not 503: a 503 is a service shedding load (with
// Retry-After), and retrying it would add to the overload. Every call we
// make is safe to repeat: each create carries its key.
const RetryOn = "500,502,504,connect-failure,refused-stream,reset"

// Retries is one service's VirtualService: the write-up's retries on
// reservation (3 attempts, 2s per try), on every service that has callers,
// so that with sidecars the mesh is the one retry layer (the services'
// own retries are off: RESILIENCE_LAYER=mesh).
func Retries(s contract.Service) *networking.VirtualService {
	host := string(s)
	return &networking.VirtualService{
		Hosts: []string{host},
		Http: []*networking.HTTPRoute{{
			Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: host}}},
			Retries: &networking.HTTPRetry{
				Attempts:      contract.RetryAttempts,
				PerTryTimeout: durationpb.New(contract.PerTryTimeout),
				RetryOn:       RetryOn,
			},
		}},
	}
}

// StrictMTLS is the namespace's PeerAuthentication: only mesh traffic.
func StrictMTLS() *security.PeerAuthentication {
	return &security.PeerAuthentication{
		Mtls: &security.PeerAuthentication_MutualTLS{Mode: security.PeerAuthentication_MutualTLS_STRICT},
	}
}

// Allow is the AuthorizationPolicy of one service: only the callers in
// contract.Callers (plus, for the gateway, the ingress gateway) may call
// it, on its HTTP port. Probes come from the kubelet through the sidecar's
// own rewrite and are not affected.
func Allow(s contract.Service, namespace, ingressPrincipal string) *security.AuthorizationPolicy {
	var principals []string
	for _, caller := range contract.Callers(s) {
		principals = append(principals, ServiceAccountPrincipal(namespace, caller))
	}
	if s == contract.Gateway {
		principals = append(principals, ingressPrincipal)
	}
	return &security.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": string(s)}},
		Action:   security.AuthorizationPolicy_ALLOW,
		Rules: []*security.Rule{{
			From: []*security.Rule_From{{Source: &security.Source{Principals: principals}}},
		}},
	}
}

// ServiceAccountPrincipal is a workload's mTLS identity.
func ServiceAccountPrincipal(namespace string, s contract.Service) string {
	return "cluster.local/ns/" + namespace + "/sa/" + string(s)
}

// IngressGateway admits HTTP on port 80 at the ingress gateway pods.
func IngressGateway() *networking.Gateway {
	return &networking.Gateway{
		Selector: map[string]string{"istio": "ingressgateway"},
		Servers: []*networking.Server{{
			Port:  &networking.Port{Number: 80, Name: "http", Protocol: "HTTP"},
			Hosts: []string{"*"},
		}},
	}
}

// IngressRoute sends everything that enters through the ingress gateway to
// the gateway service, the write-up's single entry point.
func IngressRoute(namespace string) *networking.VirtualService {
	return &networking.VirtualService{
		Hosts:    []string{"*"},
		Gateways: []string{namespace + "/ingress"},
		Http: []*networking.HTTPRoute{{
			Route: []*networking.HTTPRouteDestination{{Destination: &networking.Destination{
				Host: string(contract.Gateway), Port: &networking.PortSelector{Number: contract.HTTPPort},
			}}},
		}},
	}
}
