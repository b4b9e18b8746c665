// The Pulumi program: `pulumi up` in the repository root runs this
// (Pulumi.yaml points here). Everything it does lives in package stack.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/stack"
)

func main() { pulumi.Run(stack.Program) }
