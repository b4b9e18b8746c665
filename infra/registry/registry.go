// Package registry creates one ECR repository per service: images are
// scanned on push, tags are immutable (deploys pin digests anyway), and a
// lifecycle policy keeps the last N images.
package registry

import (
	"encoding/json"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ecr"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/svc/contract"
)

// Args configure the registry.
type Args struct {
	Prefix     string // repositories are <prefix>/<service>
	KeepImages int
}

// Registry holds the repositories.
type Registry struct {
	pulumi.ResourceState
	URLs map[contract.Service]pulumi.StringOutput
}

// LifecyclePolicy keeps the newest keep images of a repository.
func LifecyclePolicy(keep int) string {
	b, _ := json.Marshal(map[string]any{"rules": []map[string]any{{
		"rulePriority": 1,
		"description":  "keep the last images",
		"selection":    map[string]any{"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
		"action":       map[string]string{"type": "expire"},
	}}})
	return string(b)
}

// New creates the repositories.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Registry, error) {
	r := &Registry{URLs: map[contract.Service]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource("carrental:registry:Registry", name, r, opts...); err != nil {
		return nil, err
	}
	outputs := pulumi.Map{}
	for _, s := range contract.Services() {
		repo, err := ecr.NewRepository(ctx, string(s), &ecr.RepositoryArgs{
			Name:                       pulumi.String(args.Prefix + "/" + string(s)),
			ImageTagMutability:         pulumi.String("IMMUTABLE"),
			ImageScanningConfiguration: &ecr.RepositoryImageScanningConfigurationArgs{ScanOnPush: pulumi.Bool(true)},
			ForceDelete:                pulumi.Bool(false),
		}, pulumi.Parent(r))
		if err != nil {
			return nil, err
		}
		if _, err := ecr.NewLifecyclePolicy(ctx, string(s), &ecr.LifecyclePolicyArgs{
			Repository: repo.Name, Policy: pulumi.String(LifecyclePolicy(args.KeepImages)),
		}, pulumi.Parent(r)); err != nil {
			return nil, err
		}
		r.URLs[s] = repo.RepositoryUrl
		outputs[string(s)] = repo.RepositoryUrl
	}
	return r, ctx.RegisterResourceOutputs(r, outputs)
}
