// Package network builds the VPC the cluster and the database live in:
// public and private subnets across the region's availability zones
// (looked up, not hard-coded), an internet gateway, one NAT gateway and
// routes, tagged for the AWS load balancer integration.
package network

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Args configure the network.
type Args struct {
	Name    string
	CIDR    string // e.g. 10.0.0.0/16; subnets are /20s carved from it
	AZCount int
}

// Network is the VPC and its subnets.
type Network struct {
	pulumi.ResourceState
	VpcID            pulumi.StringOutput
	PublicSubnetIDs  pulumi.StringArray
	PrivateSubnetIDs pulumi.StringArray
	CIDR             string
}

// New builds the network.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Network, error) {
	n := &Network{CIDR: args.CIDR}
	if err := ctx.RegisterComponentResource("carrental:network:Network", name, n, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(n)
	zones, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{State: pulumi.StringRef("available")}, pulumi.Parent(n))
	if err != nil {
		return nil, err
	}
	if len(zones.Names) < args.AZCount {
		return nil, fmt.Errorf("the region has %d available zones, %d wanted", len(zones.Names), args.AZCount)
	}
	tags := func(extra map[string]string) pulumi.StringMap {
		m := pulumi.StringMap{"Project": pulumi.String("carrental"), "kubernetes.io/cluster/" + args.Name: pulumi.String("shared")}
		for k, v := range extra {
			m[k] = pulumi.String(v)
		}
		return m
	}
	vpc, err := ec2.NewVpc(ctx, name, &ec2.VpcArgs{
		CidrBlock: pulumi.String(args.CIDR), EnableDnsHostnames: pulumi.Bool(true), EnableDnsSupport: pulumi.Bool(true),
		Tags: tags(map[string]string{"Name": args.Name}),
	}, child)
	if err != nil {
		return nil, err
	}
	n.VpcID = vpc.ID().ToStringOutput()
	igw, err := ec2.NewInternetGateway(ctx, name, &ec2.InternetGatewayArgs{VpcId: vpc.ID(), Tags: tags(nil)}, child)
	if err != nil {
		return nil, err
	}
	public, err := ec2.NewRouteTable(ctx, name+"-public", &ec2.RouteTableArgs{
		VpcId:  vpc.ID(),
		Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()}},
		Tags:   tags(nil),
	}, child)
	if err != nil {
		return nil, err
	}
	var nat *ec2.NatGateway
	for i := 0; i < args.AZCount; i++ {
		az := zones.Names[i]
		pub, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.SubnetArgs{
			VpcId: vpc.ID(), AvailabilityZone: pulumi.String(az), CidrBlock: pulumi.String(subnetCIDR(args.CIDR, i)),
			MapPublicIpOnLaunch: pulumi.Bool(true),
			Tags:                tags(map[string]string{"Name": args.Name + "-public-" + az, "kubernetes.io/role/elb": "1"}),
		}, child)
		if err != nil {
			return nil, err
		}
		n.PublicSubnetIDs = append(n.PublicSubnetIDs, pub.ID())
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-public-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId: pub.ID(), RouteTableId: public.ID(),
		}, child); err != nil {
			return nil, err
		}
		if nat == nil {
			// One NAT gateway keeps the bill small; a zone outage cuts
			// the private subnets' egress, which the services do not need
			// to keep serving.
			eip, err := ec2.NewEip(ctx, name+"-nat", &ec2.EipArgs{Domain: pulumi.String("vpc"), Tags: tags(nil)}, child)
			if err != nil {
				return nil, err
			}
			if nat, err = ec2.NewNatGateway(ctx, name, &ec2.NatGatewayArgs{SubnetId: pub.ID(), AllocationId: eip.ID(), Tags: tags(nil)},
				child, pulumi.DependsOn([]pulumi.Resource{igw})); err != nil {
				return nil, err
			}
		}
	}
	private, err := ec2.NewRouteTable(ctx, name+"-private", &ec2.RouteTableArgs{
		VpcId:  vpc.ID(),
		Routes: ec2.RouteTableRouteArray{ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), NatGatewayId: nat.ID()}},
		Tags:   tags(nil),
	}, child)
	if err != nil {
		return nil, err
	}
	for i := 0; i < args.AZCount; i++ {
		az := zones.Names[i]
		priv, err := ec2.NewSubnet(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.SubnetArgs{
			VpcId: vpc.ID(), AvailabilityZone: pulumi.String(az), CidrBlock: pulumi.String(subnetCIDR(args.CIDR, 8+i)),
			Tags: tags(map[string]string{"Name": args.Name + "-private-" + az, "kubernetes.io/role/internal-elb": "1"}),
		}, child)
		if err != nil {
			return nil, err
		}
		n.PrivateSubnetIDs = append(n.PrivateSubnetIDs, priv.ID())
		if _, err := ec2.NewRouteTableAssociation(ctx, fmt.Sprintf("%s-private-%d", name, i), &ec2.RouteTableAssociationArgs{
			SubnetId: priv.ID(), RouteTableId: private.ID(),
		}, child); err != nil {
			return nil, err
		}
	}
	return n, ctx.RegisterResourceOutputs(n, pulumi.Map{"vpcId": n.VpcID})
}

// subnetCIDR is the i-th /20 of a /16 (10.0.0.0/16 -> 10.0.<16*i>.0/20).
func subnetCIDR(vpc string, i int) string {
	var a, b int
	fmt.Sscanf(vpc, "%d.%d.", &a, &b)
	return fmt.Sprintf("%d.%d.%d.0/20", a, b, 16*i)
}
