// Command pulumi-resource-kubernetes is the Pulumi Kubernetes provider. The
// module's own main embeds a schema file generated at release time, which
// the module does not ship; this one embeds the module's schema.json and
// terraform-mapping.json, copied next to it by scripts/build-tools.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema.json
var schema []byte

//go:embed terraform-mapping.json
var terraformMapping []byte

func main() { provider.Serve("kubernetes", version.Version, schema, terraformMapping) }
