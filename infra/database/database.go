// Package database runs PostgreSQL on RDS in the private subnets, reachable
// only from the cluster's nodes. Each service keeps its tables in a schema
// of its own in the one database.
package database

import (
	"net/url"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/versions"
)

// Args configure the database.
type Args struct {
	Name              string
	VpcID             pulumi.StringInput
	SubnetIDs         pulumi.StringArrayInput
	NodeSecurityGroup pulumi.StringInput // the only source allowed in
	InstanceClass     string
	StorageGB         int
	// MaxStorageGB is storage autoscaling's ceiling (0: off).
	MaxStorageGB int
	// MultiAZ keeps a synchronous standby in another zone.
	MultiAZ             bool
	PerformanceInsights bool
	Password            pulumi.StringInput // secret
}

// Database is the RDS instance.
type Database struct {
	pulumi.ResourceState
	// URL is the services' DATABASE_URL (secret).
	URL pulumi.StringOutput
}

// PostgresPort is PostgreSQL's port.
const PostgresPort = 5432

// User is the database's master user.
const User = "carrental"

// URL is the DSN for host:port with the password escaped.
func URL(password, endpoint string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(User, password), Host: endpoint, Path: "/carrental", RawQuery: "sslmode=require"}
	return u.String()
}

// New creates the database.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Database, error) {
	d := &Database{}
	if err := ctx.RegisterComponentResource("carrental:database:Database", name, d, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(d)
	sg, err := ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
		VpcId:       args.VpcID,
		Description: pulumi.String("PostgreSQL from the EKS nodes only"),
		Ingress: ec2.SecurityGroupIngressArray{ec2.SecurityGroupIngressArgs{
			Protocol: pulumi.String("tcp"), FromPort: pulumi.Int(PostgresPort), ToPort: pulumi.Int(PostgresPort),
			SecurityGroups: pulumi.StringArray{args.NodeSecurityGroup},
		}},
	}, child)
	if err != nil {
		return nil, err
	}
	subnets, err := rds.NewSubnetGroup(ctx, name, &rds.SubnetGroupArgs{SubnetIds: args.SubnetIDs}, child)
	if err != nil {
		return nil, err
	}
	db, err := rds.NewInstance(ctx, name, &rds.InstanceArgs{
		Engine:              pulumi.String("postgres"),
		EngineVersion:       pulumi.String(versions.PostgreSQL),
		InstanceClass:       pulumi.String(args.InstanceClass),
		AllocatedStorage:    pulumi.Int(args.StorageGB),
		MaxAllocatedStorage: pulumi.Int(args.MaxStorageGB),
		MultiAz:             pulumi.Bool(args.MultiAZ),
		// A failover moves the endpoint's DNS name to the standby; the
		// services' pools drop broken connections and dial it again.
		PerformanceInsightsEnabled: pulumi.Bool(args.PerformanceInsights),
		StorageEncrypted:           pulumi.Bool(true),
		DbName:                     pulumi.String("carrental"),
		Username:                   pulumi.String(User),
		Password:                   args.Password,
		DbSubnetGroupName:          subnets.Name,
		VpcSecurityGroupIds:        pulumi.StringArray{sg.ID()},
		PubliclyAccessible:         pulumi.Bool(false),
		BackupRetentionPeriod:      pulumi.Int(7),
		SkipFinalSnapshot:          pulumi.Bool(false),
		FinalSnapshotIdentifier:    pulumi.String(args.Name + "-final"),
		DeletionProtection:         pulumi.Bool(true),
	}, child)
	if err != nil {
		return nil, err
	}
	d.URL = pulumi.ToSecret(pulumi.All(args.Password, db.Endpoint).ApplyT(func(v []any) string {
		return URL(v[0].(string), v[1].(string))
	})).(pulumi.StringOutput)
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{})
}
