package wiring

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/openapi"
)

var update = flag.Bool("update", false, "rewrite api/openapi.json from the code")

const committed = "../../api/openapi.json"

// api/openapi.json is the public document the gateway serves, committed so
// a client writer reads it without running anything; it is regenerated
// with `go test ./svc/wiring -run OpenAPI -update`.
func TestPublicOpenAPIDocumentIsValidAndCommitted(t *testing.T) {
	doc, err := openapi.Document("carrental "+string(contract.Gateway), openapi.Version, PublicAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	if *update {
		if err := os.WriteFile(committed, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("%v (go test ./svc/wiring -run OpenAPI -update writes it)", err)
	}
	if string(have) != string(b) {
		t.Fatalf("%s is not what the code describes: go test ./svc/wiring -run OpenAPI -update", committed)
	}
}

// Every path the gateway routes is described, and every described path is
// one it routes.
func TestPublicAPIIsWhatTheGatewayRoutes(t *testing.T) {
	described := map[string]bool{}
	for _, op := range PublicAPI() {
		routed := false
		for prefix := range contract.Routes() {
			if op.Path == prefix || strings.HasPrefix(op.Path, prefix+"/") {
				routed, described[prefix] = true, true
			}
		}
		if !routed {
			t.Errorf("%s %s is described but the gateway does not route it", op.Method, op.Path)
		}
	}
	for prefix := range contract.Routes() {
		if !described[prefix] {
			t.Errorf("the gateway routes %s, which no operation describes", prefix)
		}
	}
}

// Each service's own document is valid too.
func TestEveryServiceDocumentIsValid(t *testing.T) {
	for _, spec := range All() {
		doc, err := openapi.Document(string(spec.Service), openapi.Version, spec.API)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Errorf("%s: %v", spec.Service, err)
		}
	}
}
