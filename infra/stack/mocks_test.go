package stack_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/stack"
	"github.com/carrental/carrental/svc/contract"
)

// declared is one resource the program registered.
type declared struct {
	Type, Name, URN string
	Inputs          map[string]any
	Dependencies    []string
}

// recorder is a mock resource monitor that records every resource.
type recorder struct {
	mu        sync.Mutex
	resources []declared
}

func (r *recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	d := declared{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs.Mappable()}
	if args.RegisterRPC != nil {
		d.Dependencies = args.RegisterRPC.Dependencies
	}
	d.URN = "urn:" + args.TypeToken + "::" + args.Name
	r.mu.Lock()
	r.resources = append(r.resources, d)
	r.mu.Unlock()

	outputs := args.Inputs.Copy()
	switch args.TypeToken {
	case "aws:eks/cluster:Cluster":
		outputs["endpoint"] = resource.NewStringProperty("https://eks.example")
		outputs["certificateAuthority"] = resource.NewObjectProperty(resource.PropertyMap{"data": resource.NewStringProperty("Q0E=")})
		outputs["identities"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
			"oidcs": resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(resource.PropertyMap{
				"issuer": resource.NewStringProperty("https://oidc.example/id/1")})})})})
		vpc := args.Inputs["vpcConfig"].ObjectValue().Copy()
		vpc["clusterSecurityGroupId"] = resource.NewStringProperty("sg-nodes")
		outputs["vpcConfig"] = resource.NewObjectProperty(vpc)
	case "aws:ecr/repository:Repository":
		outputs["repositoryUrl"] = resource.NewStringProperty("123.dkr.ecr.ap-northeast-2.amazonaws.com/" + args.Inputs["name"].StringValue())
	case "aws:ec2/launchTemplate:LaunchTemplate":
		outputs["latestVersion"] = resource.NewNumberProperty(1)
	case "aws:rds/instance:Instance":
		outputs["endpoint"] = resource.NewStringProperty("db.example:5432")
	}
	return args.Name + "-id", outputs, nil
}

func (r *recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	if args.Token == "aws:index/getAvailabilityZones:getAvailabilityZones" {
		return resource.NewPropertyMapFromMap(map[string]any{
			"names": []any{"ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c", "ap-northeast-2d"},
		}), nil
	}
	return resource.PropertyMap{}, nil
}

// run runs the program against the mocks with the given stack config.
func run(t *testing.T, stackName string, config map[string]string) *recorder {
	t.Helper()
	b, _ := json.Marshal(config)
	t.Setenv("PULUMI_CONFIG", string(b))
	r := &recorder{}
	if err := pulumi.RunErr(stack.Program, pulumi.WithMocks("carrental", stackName, r)); err != nil {
		t.Fatalf("program: %v", err)
	}
	return r
}

func (r *recorder) find(t *testing.T, typ, name string) declared {
	t.Helper()
	for _, d := range r.resources {
		if d.Type == typ && d.Name == name {
			return d
		}
	}
	t.Fatalf("no %s %q declared", typ, name)
	return declared{}
}

func (r *recorder) all(typ string) []declared {
	var out []declared
	for _, d := range r.resources {
		if d.Type == typ {
			out = append(out, d)
		}
	}
	return out
}

// at walks a path like "spec.template.spec.containers.0.livenessProbe".
func at(t *testing.T, v any, path string) any {
	t.Helper()
	for _, key := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[key]; !ok {
				t.Fatalf("%s: no %q in %v", path, key, keys(node))
			}
		case []any:
			var i int
			if _, err := fmt.Sscan(key, &i); err != nil || i >= len(node) {
				t.Fatalf("%s: bad index %q", path, key)
			}
			v = node[i]
		default:
			t.Fatalf("%s: %q on %T", path, key, v)
		}
	}
	return v
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func fmtAny(v any) string { return fmt.Sprint(v) }

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func runErr(stackName string) error {
	return pulumi.RunErr(stack.Program, pulumi.WithMocks("carrental", stackName, &recorder{}))
}

// plain unwraps a secret input to its value.
func plain(v any) string {
	if s, ok := v.(*resource.Secret); ok {
		return fmt.Sprint(s.Element.Mappable())
	}
	return fmt.Sprint(v)
}

// The users' issuer of the local stacks under test.
const (
	testIssuer  = "https://issuer.example"
	testJWKSURI = "https://issuer.example/.well-known/jwks.json"
)

// envValue is the value of a plain env var of s's container ("" when it
// has none).
func envValue(t *testing.T, r *recorder, s contract.Service, name string) string {
	t.Helper()
	env, _ := at(t, r.find(t, "kubernetes:apps/v1:Deployment", string(s)).Inputs, "spec.template.spec.containers.0.env").([]any)
	for _, e := range env {
		if m, ok := e.(map[string]any); ok && m["name"] == name {
			return fmt.Sprint(m["value"])
		}
	}
	return ""
}
