package stack_test

import (
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
)

func TestCognitoPoolClientAndGroups(t *testing.T) {
	r := run(t, "dev", devConfig)
	client := r.find(t, "aws:cognito/userPoolClient:UserPoolClient", "identity")
	eq(t, "generateSecret", client.Inputs["generateSecret"], false)
	for _, role := range contract.Roles() {
		g := r.find(t, "aws:cognito/userGroup:UserGroup", "identity-"+role)
		eq(t, role+" group name", g.Inputs["name"], role)
	}
	pool := r.find(t, "aws:cognito/userPool:UserPool", "identity")
	eq(t, "admin-only sign-up", at(t, pool.Inputs, "adminCreateUserConfig.allowAdminCreateUserOnly"), true)
	eq(t, "deletion protection", pool.Inputs["deletionProtection"], "ACTIVE")
}

func TestPodsCarryIssuersAndServiceIdentity(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]string
		want   map[string]string
	}{
		{"dev", devConfig, map[string]string{
			contract.EnvAuthIssuer:     "https://cognito-idp.ap-northeast-2.amazonaws.com/identity-id",
			contract.EnvAuthJWKSURI:    "https://cognito-idp.ap-northeast-2.amazonaws.com/identity-id/.well-known/jwks.json",
			contract.EnvAuthAudience:   "identity-id",
			contract.EnvAuthRolesClaim: contract.CognitoRolesClaim,
			contract.EnvServiceIssuer:  "https://oidc.example/id/1",
			contract.EnvServiceJWKSURI: "https://oidc.example/id/1/keys",
		}},
		{"local", localConfig, map[string]string{
			contract.EnvAuthIssuer: testIssuer, contract.EnvAuthJWKSURI: testJWKSURI, contract.EnvAuthAudience: contract.DefaultAudience,
			contract.EnvAuthRolesClaim: contract.DefaultRolesClaim, contract.EnvServiceIssuer: "https://kubernetes.default.svc.cluster.local",
			contract.EnvServiceJWKSURI:       "https://kubernetes.default.svc/openid/v1/jwks",
			contract.EnvServiceJWKSCAFile:    "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
			contract.EnvServiceJWKSTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.name, tc.config)
			for _, s := range contract.Services() {
				d := r.find(t, deployment, string(s))
				env := map[string]any{}
				for _, e := range at(t, d.Inputs, "spec.template.spec.containers.0.env").([]any) {
					m := e.(map[string]any)
					env[m["name"].(string)] = m["value"]
					if m["name"] == contract.EnvNamespace {
						eq(t, "namespace from", at(t, m, "valueFrom.fieldRef.fieldPath"), "metadata.namespace")
					}
				}
				tc.want[contract.EnvServiceTokenFile] = contract.ServiceTokenFile
				for k, v := range tc.want {
					eq(t, string(s)+" "+k, env[k], v)
				}
				vols := fmtAny(at(t, d.Inputs, "spec.template.spec.volumes"))
				if !strings.Contains(vols, "audience:"+contract.ServiceAudience) || !strings.Contains(vols, "expirationSeconds:3600") {
					t.Errorf("%s volumes %s: no projected service token", s, vols)
				}
				eq(t, string(s)+" service account", at(t, d.Inputs, "spec.template.spec.serviceAccountName"), string(s))
			}
		})
	}
}
