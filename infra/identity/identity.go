// Package identity is the users' OIDC issuer on AWS: an Amazon Cognito
// user pool, one app client whose ID tokens the services and the mesh
// accept (their aud is the client ID), and the groups that are the roles
// (contract.Roles: Cognito writes a user's groups to cognito:groups).
package identity

import (
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cognito"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/svc/contract"
)

// Args configure the user pool.
type Args struct {
	Name   string
	Region string
	// DeletionProtection keeps `pulumi destroy` (or a replacement) from
	// deleting the pool and every user in it; a throwaway dev stack turns
	// it off.
	DeletionProtection bool
}

// ID tokens live an hour, like the local issuer's; a refresh token keeps
// a session for a month.
const (
	IDTokenMinutes    = 60
	RefreshTokenDays  = 30
	MinPasswordLength = 12
)

// Pool is the users' issuer.
type Pool struct {
	pulumi.ResourceState
	PoolID pulumi.StringOutput
	// ClientID is the app client's ID: the audience of its ID tokens.
	ClientID pulumi.StringOutput
	// Issuer is the iss of the pool's tokens; JWKSURI where its keys are.
	Issuer  pulumi.StringOutput
	JWKSURI pulumi.StringOutput
	// RolesClaim is the claim the roles are in.
	RolesClaim string
}

// New declares the pool, its app client and the role groups.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Pool, error) {
	p := &Pool{RolesClaim: contract.CognitoRolesClaim}
	if err := ctx.RegisterComponentResource("carrental:identity:Pool", name, p, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(p)
	protection := "INACTIVE"
	if args.DeletionProtection {
		protection = "ACTIVE"
	}
	pool, err := cognito.NewUserPool(ctx, name, &cognito.UserPoolArgs{
		Name:                   pulumi.String(args.Name),
		UsernameAttributes:     pulumi.StringArray{pulumi.String("email")},
		AutoVerifiedAttributes: pulumi.StringArray{pulumi.String("email")},
		// Roles are groups an administrator adds users to; a user who
		// signed themselves up would hold none and could do only what
		// anyone may, so sign-up is the administrators' too.
		AdminCreateUserConfig: &cognito.UserPoolAdminCreateUserConfigArgs{AllowAdminCreateUserOnly: pulumi.Bool(true)},
		PasswordPolicy: &cognito.UserPoolPasswordPolicyArgs{
			MinimumLength: pulumi.Int(MinPasswordLength), RequireLowercase: pulumi.Bool(true), RequireUppercase: pulumi.Bool(true),
			RequireNumbers: pulumi.Bool(true), RequireSymbols: pulumi.Bool(true), TemporaryPasswordValidityDays: pulumi.Int(3),
		},
		MfaConfiguration:              pulumi.String("OPTIONAL"),
		SoftwareTokenMfaConfiguration: &cognito.UserPoolSoftwareTokenMfaConfigurationArgs{Enabled: pulumi.Bool(true)},
		AccountRecoverySetting: &cognito.UserPoolAccountRecoverySettingArgs{RecoveryMechanisms: cognito.UserPoolAccountRecoverySettingRecoveryMechanismArray{
			cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs{Name: pulumi.String("verified_email"), Priority: pulumi.Int(1)},
		}},
		DeletionProtection: pulumi.String(protection),
	}, child)
	if err != nil {
		return nil, err
	}
	// A public client (a browser or a CLI cannot keep a secret): no client
	// secret. The provider keeps clientSecret secret anyway, and so do we,
	// should anyone turn generateSecret on.
	client, err := cognito.NewUserPoolClient(ctx, name, &cognito.UserPoolClientArgs{
		Name:           pulumi.String(args.Name),
		UserPoolId:     pool.ID(),
		GenerateSecret: pulumi.Bool(false),
		ExplicitAuthFlows: pulumi.StringArray{
			pulumi.String("ALLOW_USER_SRP_AUTH"), pulumi.String("ALLOW_REFRESH_TOKEN_AUTH"),
		},
		PreventUserExistenceErrors: pulumi.String("ENABLED"),
		EnableTokenRevocation:      pulumi.Bool(true),
		IdTokenValidity:            pulumi.Int(IDTokenMinutes),
		AccessTokenValidity:        pulumi.Int(IDTokenMinutes),
		RefreshTokenValidity:       pulumi.Int(RefreshTokenDays),
		TokenValidityUnits: &cognito.UserPoolClientTokenValidityUnitsArgs{
			IdToken: pulumi.String("minutes"), AccessToken: pulumi.String("minutes"), RefreshToken: pulumi.String("days"),
		},
	}, child, pulumi.AdditionalSecretOutputs([]string{"clientSecret"}))
	if err != nil {
		return nil, err
	}
	for i, role := range contract.Roles() {
		if _, err := cognito.NewUserGroup(ctx, name+"-"+role, &cognito.UserGroupArgs{
			Name:        pulumi.String(role),
			UserPoolId:  pool.ID(),
			Description: pulumi.String("carrental role " + role + " (docs/design-auth.md)"),
			// A user in both groups is staff first.
			Precedence: pulumi.Int(i * 10),
		}, child); err != nil {
			return nil, err
		}
	}
	p.PoolID = pool.ID().ToStringOutput()
	p.ClientID = client.ID().ToStringOutput()
	p.Issuer = IssuerURL(args.Region, p.PoolID)
	p.JWKSURI = pulumi.Sprintf("%s%s", p.Issuer, contract.PathJWKS)
	return p, ctx.RegisterResourceOutputs(p, pulumi.Map{
		"poolId": p.PoolID, "clientId": p.ClientID, "issuer": p.Issuer, "jwksUri": p.JWKSURI,
	})
}

// IssuerURL is the iss of a user pool's tokens.
func IssuerURL(region string, poolID pulumi.StringInput) pulumi.StringOutput {
	return pulumi.Sprintf("https://cognito-idp.%s.amazonaws.com/%s", region, poolID)
}
