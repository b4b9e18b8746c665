package testbed_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/carrental/carrental/infra/mesh"
	"github.com/carrental/carrental/infra/testbed"
	"github.com/carrental/carrental/svc/contract"
)

// startCluster runs the test bed, or skips when its tools are not built
// (they are built by scripts/build-tools; CARRENTAL_TESTBED=1 makes their
// absence a failure).
func startCluster(t *testing.T) *testbed.Cluster {
	t.Helper()
	tools, err := testbed.FindTools()
	if err != nil {
		if os.Getenv("CARRENTAL_TESTBED") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	c, err := testbed.Start(context.Background(), tools, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

func istioCRDs(t *testing.T) []byte {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
	if err != nil {
		t.Fatalf("locating istio.io/api: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "kubernetes", "customresourcedefinitions.gen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func object(t *testing.T, api, kind, name string, spec proto.Message) []byte {
	t.Helper()
	s, err := mesh.Spec(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": api, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": "carrental"},
		"spec":     s,
	})
	return b
}

// TestIstioAcceptsOurPoliciesAndRejectsBrokenOnes proves the test bed
// validates for real: the API server, with Istio's own CRDs and their
// validation rules, accepts every policy infra/mesh declares and rejects
// an invalid duration and an unknown enum value.
func TestIstioAcceptsOurPoliciesAndRejectsBrokenOnes(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	n, err := c.ApplyCRDs(ctx, istioCRDs(t))
	if err != nil || n < 10 {
		t.Fatalf("%d Istio CRDs applied: %v", n, err)
	}
	if status, body, err := c.Apply(ctx, "namespaces", []byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"carrental"}}`)); err != nil || status >= 300 {
		t.Fatalf("namespace: %d %s %v", status, body, err)
	}

	valid := []struct {
		plural, api, kind, name string
		spec                    proto.Message
	}{
		{"destinationrules", mesh.NetworkingAPI, "DestinationRule", "management", mesh.CircuitBreaker(contract.Management, contract.ResilienceWriteUp)},
		{"virtualservices", mesh.NetworkingAPI, "VirtualService", "reservation", mesh.Retries(contract.Reservation)},
		{"gateways", mesh.NetworkingAPI, "Gateway", "ingress", mesh.IngressGateway()},
		{"virtualservices", mesh.NetworkingAPI, "VirtualService", "ingress", mesh.IngressRoute("carrental")},
		{"peerauthentications", mesh.SecurityAPI, "PeerAuthentication", "default", mesh.StrictMTLS()},
	}
	for _, s := range contract.Services() {
		valid = append(valid, struct {
			plural, api, kind, name string
			spec                    proto.Message
		}{"authorizationpolicies", mesh.SecurityAPI, "AuthorizationPolicy", string(s), mesh.Allow(s, "carrental", "cluster.local/ns/istio-ingress/sa/istio-ingressgateway")})
	}
	// Who may do what (issue 12): the namespace's RequestAuthentication,
	// each service's request-principal policy, and reservation's
	// /internal paths held to rental's identity.
	users := mesh.Issuer{Issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example", Audiences: []string{"client-id"},
		JWKSURI: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example/.well-known/jwks.json"}
	services := mesh.Issuer{Issuer: "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE", Audiences: []string{contract.ServiceAudience},
		JWKSURI: "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE/keys"}
	valid = append(valid, struct {
		plural, api, kind, name string
		spec                    proto.Message
	}{"requestauthentications", mesh.SecurityAPI, "RequestAuthentication", "jwt", mesh.RequestAuth(users, services)},
		struct {
			plural, api, kind, name string
			spec                    proto.Message
		}{"authorizationpolicies", mesh.SecurityAPI, "AuthorizationPolicy", "reservation-internal", mesh.InternalOnly(contract.Reservation, "carrental", services.Issuer)})
	for _, s := range contract.Services() {
		valid = append(valid, struct {
			plural, api, kind, name string
			spec                    proto.Message
		}{"authorizationpolicies", mesh.SecurityAPI, "AuthorizationPolicy", string(s) + "-require-jwt", mesh.RequirePrincipal(s)})
	}
	for _, v := range valid {
		status, body, err := c.Apply(ctx, v.plural, object(t, v.api, v.kind, v.name, v.spec))
		if err != nil || status >= 300 {
			t.Errorf("%s %s rejected: %d %s %v", v.kind, v.name, status, body, err)
		}
	}

	invalid := []struct {
		name, plural, doc, why string
	}{
		{"invalid duration", "destinationrules", `{"apiVersion":"networking.istio.io/v1","kind":"DestinationRule","metadata":{"name":"broken","namespace":"carrental"},
			"spec":{"host":"management","trafficPolicy":{"outlierDetection":{"consecutive5xxErrors":5,"interval":"ten seconds"}}}}`, "interval"},
		{"unknown enum", "peerauthentications", `{"apiVersion":"security.istio.io/v1","kind":"PeerAuthentication","metadata":{"name":"broken","namespace":"carrental"},
			"spec":{"mtls":{"mode":"SOMETIMES"}}}`, "mode"},
		{"JWKS URI without a scheme", "requestauthentications", `{"apiVersion":"security.istio.io/v1","kind":"RequestAuthentication","metadata":{"name":"broken","namespace":"carrental"},
			"spec":{"jwtRules":[{"issuer":"https://issuer.example","jwksUri":"issuer.example/keys"}]}}`, "url must have scheme"},
		{"JWT rule without an issuer", "requestauthentications", `{"apiVersion":"security.istio.io/v1","kind":"RequestAuthentication","metadata":{"name":"broken-issuer","namespace":"carrental"},
			"spec":{"jwtRules":[{"issuer":"","jwksUri":"https://issuer.example/keys"}]}}`, "issuer"},
		{"unknown policy action", "authorizationpolicies", `{"apiVersion":"security.istio.io/v1","kind":"AuthorizationPolicy","metadata":{"name":"broken","namespace":"carrental"},
			"spec":{"action":"MAYBE","rules":[{"from":[{"source":{"requestPrincipals":["*"]}}]}]}}`, "action"},
	}
	for _, tc := range invalid {
		status, body, err := c.Apply(ctx, tc.plural, []byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		if status != 422 || !strings.Contains(string(body), tc.why) {
			t.Errorf("%s: status %d, want 422 naming %q: %s", tc.name, status, tc.why, body)
		}
	}
}
