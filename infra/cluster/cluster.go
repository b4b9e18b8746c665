// Package cluster builds the EKS cluster: its IAM roles, KMS envelope
// encryption of secrets, API-mode access entries for an admin, a managed
// node group in the private subnets with IMDSv2 required, the OIDC
// provider for IRSA, and a kubeconfig built from the cluster's outputs.
package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/eks"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/kms"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Args configure the cluster.
type Args struct {
	Name              string
	Region            string
	Version           string
	PrivateSubnetIDs  pulumi.StringArrayInput
	PublicSubnetIDs   pulumi.StringArrayInput
	InstanceType      string
	MinSize, MaxSize  int
	DesiredSize       int
	AdminPrincipalArn string // empty: only the creator administers
	PublicAccessCidrs []string
}

// Cluster is the EKS cluster.
type Cluster struct {
	pulumi.ResourceState
	Name                pulumi.StringOutput
	Kubeconfig          pulumi.StringOutput // secret
	NodeSecurityGroupID pulumi.StringOutput
	OIDCProviderArn     pulumi.StringOutput
	// OIDCIssuer is the cluster's ServiceAccount issuer (its tokens' iss,
	// public discovery and keys): what the services verify each other's
	// projected tokens against.
	OIDCIssuer pulumi.StringOutput
	NodeGroup  *eks.NodeGroup
}

// Managed policies the roles need.
const (
	ClusterPolicy      = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
	WorkerNodePolicy   = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"
	CNIPolicy          = "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"
	ECRReadOnlyPolicy  = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	ClusterAdminPolicy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
)

func assumeRole(service string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": map[string]string{"Service": service},
		}},
	})
	return string(b)
}

// New builds the cluster.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Cluster, error) {
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("carrental:cluster:Cluster", name, c, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(c)
	role := func(roleName, service string, policies ...string) (*iam.Role, error) {
		r, err := iam.NewRole(ctx, roleName, &iam.RoleArgs{AssumeRolePolicy: pulumi.String(assumeRole(service))}, child)
		if err != nil {
			return nil, err
		}
		for i, p := range policies {
			if _, err := iam.NewRolePolicyAttachment(ctx, fmt.Sprintf("%s-%d", roleName, i), &iam.RolePolicyAttachmentArgs{
				Role: r.Name, PolicyArn: pulumi.String(p),
			}, child); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
	clusterRole, err := role(name+"-cluster", "eks.amazonaws.com", ClusterPolicy)
	if err != nil {
		return nil, err
	}
	nodeRole, err := role(name+"-node", "ec2.amazonaws.com", WorkerNodePolicy, CNIPolicy, ECRReadOnlyPolicy)
	if err != nil {
		return nil, err
	}
	key, err := kms.NewKey(ctx, name+"-secrets", &kms.KeyArgs{
		Description: pulumi.String("envelope encryption of " + args.Name + " Kubernetes secrets"), EnableKeyRotation: pulumi.Bool(true),
	}, child)
	if err != nil {
		return nil, err
	}
	cidrs := pulumi.ToStringArray(args.PublicAccessCidrs)
	cl, err := eks.NewCluster(ctx, name, &eks.ClusterArgs{
		Name:    pulumi.String(args.Name),
		Version: pulumi.String(args.Version),
		RoleArn: clusterRole.Arn,
		VpcConfig: &eks.ClusterVpcConfigArgs{
			SubnetIds:             args.PrivateSubnetIDs,
			EndpointPublicAccess:  pulumi.Bool(true),
			EndpointPrivateAccess: pulumi.Bool(true),
			PublicAccessCidrs:     cidrs,
		},
		AccessConfig: &eks.ClusterAccessConfigArgs{
			AuthenticationMode:                      pulumi.String("API"),
			BootstrapClusterCreatorAdminPermissions: pulumi.Bool(true),
		},
		EncryptionConfig: &eks.ClusterEncryptionConfigArgs{
			Provider:  &eks.ClusterEncryptionConfigProviderArgs{KeyArn: key.Arn},
			Resources: pulumi.StringArray{pulumi.String("secrets")},
		},
		EnabledClusterLogTypes: pulumi.StringArray{pulumi.String("api"), pulumi.String("audit"), pulumi.String("authenticator")},
	}, child)
	if err != nil {
		return nil, err
	}
	c.Name = cl.Name
	c.NodeSecurityGroupID = cl.VpcConfig.ClusterSecurityGroupId().Elem()

	if args.AdminPrincipalArn != "" {
		entry, err := eks.NewAccessEntry(ctx, name+"-admin", &eks.AccessEntryArgs{
			ClusterName: cl.Name, PrincipalArn: pulumi.String(args.AdminPrincipalArn), Type: pulumi.String("STANDARD"),
		}, child)
		if err != nil {
			return nil, err
		}
		if _, err := eks.NewAccessPolicyAssociation(ctx, name+"-admin", &eks.AccessPolicyAssociationArgs{
			ClusterName: cl.Name, PrincipalArn: entry.PrincipalArn, PolicyArn: pulumi.String(ClusterAdminPolicy),
			AccessScope: &eks.AccessPolicyAssociationAccessScopeArgs{Type: pulumi.String("cluster")},
		}, child); err != nil {
			return nil, err
		}
	}

	lt, err := ec2.NewLaunchTemplate(ctx, name+"-nodes", &ec2.LaunchTemplateArgs{
		// IMDSv2 only, one hop: pods cannot reach the node's credentials.
		MetadataOptions: &ec2.LaunchTemplateMetadataOptionsArgs{
			HttpEndpoint: pulumi.String("enabled"), HttpTokens: pulumi.String("required"), HttpPutResponseHopLimit: pulumi.Int(1),
		},
	}, child)
	if err != nil {
		return nil, err
	}
	// The VPC CNI enforces the app's NetworkPolicies only with its policy
	// agent switched on; without it they would be accepted and ignored.
	cni, err := eks.NewAddon(ctx, name+"-vpc-cni", &eks.AddonArgs{
		ClusterName:              cl.Name,
		AddonName:                pulumi.String("vpc-cni"),
		ConfigurationValues:      pulumi.String(`{"enableNetworkPolicy":"true"}`),
		ResolveConflictsOnCreate: pulumi.String("OVERWRITE"),
		ResolveConflictsOnUpdate: pulumi.String("OVERWRITE"),
	}, child)
	if err != nil {
		return nil, err
	}
	c.NodeGroup, err = eks.NewNodeGroup(ctx, name, &eks.NodeGroupArgs{
		ClusterName:   cl.Name,
		NodeRoleArn:   nodeRole.Arn,
		SubnetIds:     args.PrivateSubnetIDs,
		InstanceTypes: pulumi.StringArray{pulumi.String(args.InstanceType)},
		ScalingConfig: &eks.NodeGroupScalingConfigArgs{
			MinSize: pulumi.Int(args.MinSize), MaxSize: pulumi.Int(args.MaxSize), DesiredSize: pulumi.Int(args.DesiredSize),
		},
		LaunchTemplate: &eks.NodeGroupLaunchTemplateArgs{Id: lt.ID(), Version: lt.LatestVersion.ApplyT(func(v int) string { return fmt.Sprint(v) }).(pulumi.StringOutput)},
	}, child, pulumi.DependsOn([]pulumi.Resource{cni}))
	if err != nil {
		return nil, err
	}

	issuer := cl.Identities.Index(pulumi.Int(0)).Oidcs().Index(pulumi.Int(0)).Issuer().Elem()
	oidc, err := iam.NewOpenIdConnectProvider(ctx, name, &iam.OpenIdConnectProviderArgs{
		Url: issuer, ClientIdLists: pulumi.StringArray{pulumi.String("sts.amazonaws.com")},
	}, child)
	if err != nil {
		return nil, err
	}
	c.OIDCProviderArn = oidc.Arn
	c.OIDCIssuer = issuer

	c.Kubeconfig = pulumi.ToSecret(pulumi.All(cl.Name, cl.Endpoint, cl.CertificateAuthority.Data().Elem()).ApplyT(
		func(v []any) (string, error) {
			return Kubeconfig(v[0].(string), v[1].(string), v[2].(string), args.Region)
		})).(pulumi.StringOutput)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"name": c.Name, "kubeconfig": c.Kubeconfig})
}

// Kubeconfig renders a kubeconfig for the cluster that authenticates with
// `aws eks get-token`; the same outputs always give the same bytes.
func Kubeconfig(name, endpoint, caData, region string) (string, error) {
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": name,
		"clusters": []any{map[string]any{"name": name, "cluster": map[string]any{
			"server": endpoint, "certificate-authority-data": caData,
		}}},
		"contexts": []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
		"users": []any{map[string]any{"name": name, "user": map[string]any{"exec": map[string]any{
			"apiVersion": "client.authentication.k8s.io/v1beta1",
			"command":    "aws",
			"args":       []string{"eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"},
		}}}},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	return string(b), err
}
