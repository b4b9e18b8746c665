// Package stack composes the components into the program `pulumi up`
// runs: on AWS, network -> cluster -> registry and database; on any
// target, add-ons -> mesh policies -> the six services.
package stack

import (
	"fmt"
	"net/url"
	"strconv"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/addons"
	"github.com/carrental/carrental/infra/cluster"
	"github.com/carrental/carrental/infra/config"
	"github.com/carrental/carrental/infra/database"
	"github.com/carrental/carrental/infra/identity"
	"github.com/carrental/carrental/infra/mesh"
	"github.com/carrental/carrental/infra/monitoring"
	"github.com/carrental/carrental/infra/network"
	"github.com/carrental/carrental/infra/registry"
	"github.com/carrental/carrental/infra/workloads"
	"github.com/carrental/carrental/svc/contract"
)

// Both Kubernetes providers update ConfigMaps in place
// (enableConfigMapMutable): rental re-reads the mounted rental-region files
// and picks a change up without a restart, which a replaced ConfigMap
// would defeat.

// Program is the Pulumi program.
func Program(ctx *pulumi.Context) error {
	cfg, err := config.Load(ctx)
	if err != nil {
		return err
	}
	name := "carrental-" + ctx.Stack()
	platform := platform{repos: map[contract.Service]pulumi.StringInput{}}
	if cfg.Target == config.AWS {
		if platform, err = awsPlatform(ctx, name, cfg); err != nil {
			return err
		}
	} else {
		pa := &kubernetes.ProviderArgs{EnableConfigMapMutable: pulumi.Bool(true)}
		if cfg.Kubeconfig != "" {
			pa.Kubeconfig = pulumi.String(cfg.Kubeconfig)
		}
		if platform.provider, err = kubernetes.NewProvider(ctx, "k8s", pa); err != nil {
			return err
		}
		for _, s := range contract.Services() {
			platform.repos[s] = pulumi.String(LocalImageRepo + "/" + string(s))
		}
		if cfg.HasDatabaseURL {
			// Wherever it runs: the cluster's own network is unknown here.
			platform.databaseURL, platform.hasDatabase, platform.databaseCIDR = cfg.DatabaseURL, true, "0.0.0.0/0"
		} else {
			_ = ctx.Log.Warn("no carrental:databaseUrl: every pod keeps SQLite in its own emptyDir, so replicas of one service "+
				"do not share data and a restart loses it. Fine to try the platform; set a PostgreSQL URL to keep data.", nil)
		}
		platform.auth = localAuth(cfg)
	}
	if cfg.AuthMode == contract.AuthOff {
		_ = ctx.Log.Warn("carrental:authMode off: the services and the mesh check no identity at all; anyone who reaches the gateway "+
			"may do anything. For a benchmark's baseline only.", nil)
	}
	return deploy(ctx, cfg, platform)
}

// LocalImageRepo is the repository scripts/build-images names its offline
// images in, the ones scripts/deploy loads into kind or minikube.
const LocalImageRepo = "carrental.local"

// images resolves every service's image: pinned in carrental:images, else
// its repository tagged carrental:imageTag. None at all is a stack whose
// images were never built (the first `pulumi up` of scripts/deploy): the
// app waits for them. Some but not all is a mistake worth stopping for.
func images(cfg config.Config, repos map[contract.Service]pulumi.StringInput) (map[contract.Service]pulumi.StringInput, error) {
	out := map[contract.Service]pulumi.StringInput{}
	var missing []contract.Service
	for _, s := range contract.Services() {
		switch img, ok := cfg.Images[s]; {
		case ok:
			out[s] = pulumi.String(img)
		case cfg.ImageTag != "":
			out[s] = pulumi.Sprintf("%s:%s", repos[s], cfg.ImageTag)
		default:
			missing = append(missing, s)
		}
	}
	if len(missing) == len(contract.Services()) {
		return nil, nil
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no image for %v: set carrental:images for each service, or carrental:imageTag", missing)
	}
	return out, nil
}

// platform is what the app is deployed onto.
type platform struct {
	provider     *kubernetes.Provider
	repos        map[contract.Service]pulumi.StringInput
	databaseURL  pulumi.StringOutput
	hasDatabase  bool
	databaseCIDR string // where the NetworkPolicies let the services reach it
	auth         authWiring
}

// authWiring is who issues the tokens the services and the mesh accept:
// the users' issuer (the Cognito pool on AWS, the stack's configuration
// locally) and the cluster's ServiceAccount issuer, which signs the
// services' projected tokens.
type authWiring struct {
	userIssuer, userAudience, userJWKSURI, userJWKS pulumi.StringInput
	rolesClaim                                      string
	serviceIssuer, serviceJWKSURI                   pulumi.StringInput
	// kubeAPI: the services fetch the service issuer's keys from the
	// Kubernetes API server, with the pod's API token and CA (local).
	kubeAPI bool
	// egress is where the NetworkPolicies let the pods fetch the keys.
	egress networkingv1.NetworkPolicyEgressRuleInput
}

// localAuth is a local stack's: the configured users' issuer and the API
// server's own ServiceAccount issuer.
func localAuth(cfg config.Config) authWiring {
	return authWiring{
		userIssuer: pulumi.String(cfg.AuthIssuer), userAudience: pulumi.String(cfg.AuthAudience),
		userJWKSURI: pulumi.String(cfg.AuthJWKSURI), userJWKS: pulumi.String(cfg.AuthJWKS), rolesClaim: cfg.AuthRolesClaim,
		serviceIssuer: pulumi.String(cfg.ServiceAuthIssuer), serviceJWKSURI: pulumi.String(cfg.ServiceAuthJWKSURI),
		kubeAPI: true, egress: workloads.EgressTo(cfg.APIServerCIDR, cfg.APIServerPort),
	}
}

// EKSJWKSPath is where an EKS OIDC issuer serves its keys (its discovery
// document's jwks_uri).
const EKSJWKSPath = "/keys"

func awsPlatform(ctx *pulumi.Context, name string, cfg config.Config) (platform, error) {
	p := platform{repos: map[contract.Service]pulumi.StringInput{}}
	net, err := network.New(ctx, "network", network.Args{Name: name, CIDR: cfg.VpcCidr, AZCount: cfg.AZCount})
	if err != nil {
		return p, err
	}
	eks, err := cluster.New(ctx, "cluster", cluster.Args{
		Name: name, Region: cfg.Region, Version: cfg.EKSVersion,
		PrivateSubnetIDs: net.PrivateSubnetIDs, PublicSubnetIDs: net.PublicSubnetIDs,
		InstanceType: cfg.NodeInstanceType, MinSize: cfg.NodeMin, MaxSize: cfg.NodeMax, DesiredSize: cfg.NodeDesired,
		AdminPrincipalArn: cfg.AdminPrincipalArn, PublicAccessCidrs: cfg.PublicAccessCidrs,
	})
	if err != nil {
		return p, err
	}
	reg, err := registry.New(ctx, "registry", registry.Args{Prefix: name, KeepImages: cfg.ECRKeepImages})
	if err != nil {
		return p, err
	}
	db, err := database.New(ctx, "database", database.Args{
		Name: name, VpcID: net.VpcID, SubnetIDs: net.PrivateSubnetIDs, NodeSecurityGroup: eks.NodeSecurityGroupID,
		InstanceClass: cfg.DBInstanceClass, StorageGB: cfg.DBStorageGB, MaxStorageGB: cfg.DBMaxStorageGB,
		MultiAZ: cfg.DBMultiAZ, PerformanceInsights: cfg.DBPerformanceInsights, Password: cfg.DBPassword,
	})
	if err != nil {
		return p, err
	}
	p.databaseURL, p.hasDatabase, p.databaseCIDR = db.URL, true, cfg.VpcCidr
	urls := pulumi.StringMap{}
	for s, u := range reg.URLs {
		p.repos[s] = u
		urls[string(s)] = u
	}
	users, err := identity.New(ctx, "identity", identity.Args{Name: name, Region: cfg.Region, DeletionProtection: cfg.AuthDeletionProtection})
	if err != nil {
		return p, err
	}
	p.auth = authWiring{
		userIssuer: users.Issuer, userAudience: users.ClientID, userJWKSURI: users.JWKSURI, userJWKS: pulumi.String(""),
		rolesClaim:    users.RolesClaim,
		serviceIssuer: eks.OIDCIssuer, serviceJWKSURI: pulumi.Sprintf("%s%s", eks.OIDCIssuer, EKSJWKSPath),
		// Cognito's and EKS's keys are public, on the internet.
		egress: workloads.EgressTo("0.0.0.0/0", 443),
	}
	ctx.Export("cognitoUserPoolId", users.PoolID)
	ctx.Export("kubeconfig", eks.Kubeconfig)
	ctx.Export("clusterName", eks.Name)
	ctx.Export("ecrUrls", urls)
	p.provider, err = kubernetes.NewProvider(ctx, "eks", &kubernetes.ProviderArgs{Kubeconfig: eks.Kubeconfig, EnableConfigMapMutable: pulumi.Bool(true)},
		pulumi.DependsOn([]pulumi.Resource{eks.NodeGroup}))
	return p, err
}

func deploy(ctx *pulumi.Context, cfg config.Config, p platform) error {
	k8s := pulumi.Provider(p.provider)
	add, err := addons.New(ctx, "addons", addons.Args{
		AppNamespace: cfg.Namespace, MetricsServer: cfg.MetricsServerChart, Istio: cfg.IstioCharts, MeshMode: cfg.MeshMode,
		NATS: cfg.NATSChart, NATSMode: cfg.NATSMode, NATSReplicas: cfg.NATSReplicas, NATSStorage: cfg.NATSStorage,
		PullPolicy: cfg.ImagePullPolicy, SkipAwait: cfg.SkipAwait,
	}, k8s)
	if err != nil {
		return err
	}
	// Everything below needs the Istio CRDs and the injection webhook.
	istio := []pulumi.Resource{add.Istiod, add.Namespace}
	afterIstio := pulumi.DependsOn(istio)
	ns := add.Namespace.Metadata.Name().Elem()
	var meshAuth *mesh.AuthArgs
	if cfg.AuthMode == contract.AuthJWT {
		a := p.auth
		meshAuth = &mesh.AuthArgs{UserIssuer: a.userIssuer, UserAudience: a.userAudience, UserJWKSURI: a.userJWKSURI, UserJWKS: a.userJWKS,
			ServiceIssuer: a.serviceIssuer, ServiceJWKSURI: a.serviceJWKSURI}
		ctx.Export("authIssuer", a.userIssuer)
		ctx.Export("authAudience", a.userAudience) // Cognito: the app client's ID
		ctx.Export("authJwksUri", a.userJWKSURI)
		ctx.Export("serviceAuthIssuer", a.serviceIssuer)
		ctx.Export("serviceAuthJwksUri", a.serviceJWKSURI)
	}
	if _, err := mesh.NewPolicies(ctx, "mesh", mesh.PoliciesArgs{Namespace: cfg.Namespace, IngressPrincipal: addons.IngressPrincipal,
		Resilience: cfg.Resilience, DependsOn: istio, Auth: meshAuth}, k8s); err != nil {
		return err
	}

	if cfg.MonitoringEnabled {
		if _, err := monitoring.New(ctx, "monitoring", monitoring.Args{
			Namespace: cfg.Namespace, MonitoringNamespace: cfg.MonitoringNamespace, Release: cfg.MonitoringRelease,
			Objectives: monitoring.DefaultObjectives(), Sidecars: cfg.MeshMode == config.MeshSidecars, DependsOn: []pulumi.Resource{add.Namespace},
		}, k8s); err != nil {
			return err
		}
	}

	// One retry layer: with sidecars the mesh retries, pools and ejects,
	// and the services keep only their timeouts; without, the services do.
	layer := contract.ResilienceInApp
	if cfg.MeshMode == config.MeshSidecars {
		layer = contract.ResilienceMesh
	}
	shared := corev1.EnvVarArray{env(contract.EnvResilienceProfile, cfg.Resilience), env(contract.EnvResilienceLayer, layer)}
	switch cfg.NATSMode {
	case "helm", "statefulset":
		shared = append(shared, env(contract.EnvNATSURL, add.NATSURL), env(contract.EnvStreamReplicas, fmt.Sprint(cfg.StreamReplicas)))
	case "external":
		shared = append(shared, env(contract.EnvNATSURL, cfg.NATSURL), env(contract.EnvStreamReplicas, fmt.Sprint(cfg.StreamReplicas)))
	}
	shared = append(shared, tracingEnv(cfg)...)
	shared = append(shared, authEnv(cfg, p.auth)...)
	if cfg.AuthMode == contract.AuthJWT && p.auth.kubeAPI {
		// The API server serves its /openid/v1/jwks to the holders of
		// system:service-account-issuer-discovery. Kubernetes binds it to
		// every ServiceAccount by default, but a cluster may have dropped
		// that binding; this one keeps it for the app's namespace only.
		if _, err := rbacv1.NewClusterRoleBinding(ctx, "service-issuer-discovery", &rbacv1.ClusterRoleBindingArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.Sprintf("carrental-%s-issuer-discovery", ns)},
			RoleRef: &rbacv1.RoleRefArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"),
				Name: pulumi.String(ServiceIssuerDiscoveryRole)},
			Subjects: rbacv1.SubjectArray{rbacv1.SubjectArgs{ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("Group"),
				Name: pulumi.Sprintf("system:serviceaccounts:%s", ns)}},
		}, k8s, afterIstio); err != nil {
			return err
		}
	}
	// Only the services that keep data hold the database's credentials,
	// each pod with its share of the server's connections.
	var dbEnv corev1.EnvVarArray
	if p.hasDatabase {
		share, err := cfg.DatabasePool(workloads.MaxSurge)
		if err != nil {
			return err
		}
		secret, err := corev1.NewSecret(ctx, "database", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("carrental-database"), Namespace: ns},
			StringData: pulumi.StringMap{"url": p.databaseURL},
		}, k8s, afterIstio)
		if err != nil {
			return err
		}
		dbEnv = corev1.EnvVarArray{corev1.EnvVarArgs{Name: pulumi.String(contract.EnvDatabaseURL), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: secret.Metadata.Name().Elem(), Key: pulumi.String("url")},
		}}, env(contract.EnvDatabaseMaxConns, fmt.Sprint(share))}
	}
	region, err := workloads.RentalRegion(ctx, ns, cfg.RentalCountry, cfg.RentalRegion, k8s, afterIstio)
	if err != nil {
		return err
	}
	imgs, err := images(cfg, p.repos)
	if err != nil {
		return err
	}
	if imgs == nil {
		_ = ctx.Log.Warn("no images for this stack yet: the platform is declared, the six services are not. "+
			"scripts/deploy builds and pins them (or set carrental:images / carrental:imageTag).", nil)
	}
	egress := outsideCluster(cfg, p)
	for _, s := range contract.Services() {
		if imgs == nil {
			break
		}
		serviceEnv := shared
		if contract.HasDatabase(s) {
			serviceEnv = append(append(corev1.EnvVarArray{}, shared...), dbEnv...)
		}
		args := workloads.ServiceArgs{
			Service: s, Namespace: ns, Image: imgs[s], ImagePullPolicy: cfg.ImagePullPolicy, Env: serviceEnv,
			MemoryReq: cfg.MemoryRequest, MemoryLimit: cfg.MemoryLimit, SkipAwait: cfg.SkipAwait, Egress: egress,
			ZoneSpread: cfg.ZoneSpread, KubeAPIAccess: cfg.AuthMode == contract.AuthJWT && p.auth.kubeAPI,
		}
		if s == contract.Gateway {
			args.IngressFrom = []string{addons.IngressNamespace}
			args.Env = append(append(corev1.EnvVarArray{}, shared...),
				env(contract.EnvRateLimitRPS, fmt.Sprint(cfg.RateLimitRPS)),
				env(contract.EnvRateLimitBurst, fmt.Sprint(cfg.RateLimitBurst)),
				env(contract.EnvTrustedProxyHops, fmt.Sprint(cfg.TrustedProxyHops)))
		}
		if a, ok := cfg.Autoscaling[s]; ok {
			a := a
			args.Autoscaling = &a
		}
		args.DependsOn = istio
		if s == contract.Rental {
			env, vols, mounts := workloads.RentalRegionWiring()
			args.Env = append(append(corev1.EnvVarArray{}, serviceEnv...), env...)
			args.Volumes, args.Mounts = vols, mounts
			args.DependsOn = append(append([]pulumi.Resource{}, istio...), region)
		}
		if _, err := workloads.NewService(ctx, args, k8s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	ctx.Export("namespace", ns)
	if add.Ingress == nil {
		// Mesh mode policies: no ingress gateway; reach the gateway Service
		// inside the cluster (or with kubectl port-forward).
		ctx.Export("gatewayUrl", pulumi.String(""))
		return nil
	}
	ingress, err := corev1.GetService(ctx, "ingress", pulumi.ID(addons.IngressNamespace+"/istio-ingressgateway"), nil,
		k8s, pulumi.DependsOn([]pulumi.Resource{add.Ingress}))
	if err != nil {
		return err
	}
	ctx.Export("gatewayUrl", ingress.Status.ApplyT(func(st *corev1.ServiceStatus) string {
		if st == nil || st.LoadBalancer == nil || len(st.LoadBalancer.Ingress) == 0 {
			return "" // no load balancer (kind, minikube): use kubectl port-forward
		}
		in := st.LoadBalancer.Ingress[0]
		host := ""
		if in.Hostname != nil {
			host = *in.Hostname
		} else if in.Ip != nil {
			host = *in.Ip
		}
		return "http://" + host + contract.PathCarManagements
	}))
	return nil
}

// outsideCluster is what the services reach beyond the cluster's pods:
// PostgreSQL (RDS inside the VPC; a local stack's carrental:databaseUrl)
// and an external NATS, each on its port.
func outsideCluster(cfg config.Config, p platform) networkingv1.NetworkPolicyEgressRuleArray {
	var rules networkingv1.NetworkPolicyEgressRuleArray
	if p.hasDatabase {
		rules = append(rules, workloads.EgressTo(p.databaseCIDR, database.PostgresPort))
	}
	if cfg.NATSMode == "external" {
		rules = append(rules, workloads.EgressTo("0.0.0.0/0", natsPort(cfg.NATSURL)))
	}
	if cfg.AuthMode == contract.AuthJWT && p.auth.egress != nil {
		rules = append(rules, p.auth.egress)
	}
	return rules
}

// natsPort is the port of a nats:// URL, 4222 when it names none.
func natsPort(raw string) int {
	if u, err := url.Parse(raw); err == nil && u.Port() != "" {
		if n, err := strconv.Atoi(u.Port()); err == nil {
			return n
		}
	}
	return 4222
}

// tracingEnv points every service at the stack's collector, if it names
// one; without, the services make and propagate trace IDs and export
// nothing. The ratio samples at the gateway and the others follow its
// decision (parent-based), so a trace is whole or absent.
func tracingEnv(cfg config.Config) corev1.EnvVarArray {
	if cfg.OTLPEndpoint == "" {
		return nil
	}
	return corev1.EnvVarArray{
		env(contract.EnvOTLPEndpoint, cfg.OTLPEndpoint),
		env(contract.EnvOTLPProtocol, cfg.OTLPProtocol),
		env(contract.EnvTracesSampler, contract.SamplerParentBasedRatio),
		env(contract.EnvTracesSamplerArg, strconv.FormatFloat(cfg.TraceSampleRatio, 'g', -1, 64)),
	}
}

// ServiceIssuerDiscoveryRole is Kubernetes' ClusterRole for reading the
// ServiceAccount issuer's discovery document and keys.
const ServiceIssuerDiscoveryRole = "system:service-account-issuer-discovery"

// authEnv is what every service verifies tokens with (contract's env
// keys): the users' issuer, audience, keys and roles claim, and the
// cluster's ServiceAccount issuer and its keys, fetched with the pod's
// API token and CA where the API server serves them.
func authEnv(cfg config.Config, a authWiring) corev1.EnvVarArray {
	out := corev1.EnvVarArray{env(contract.EnvAuthMode, cfg.AuthMode)}
	if cfg.AuthMode != contract.AuthJWT {
		return out
	}
	out = append(out,
		envOf(contract.EnvAuthIssuer, a.userIssuer),
		envOf(contract.EnvAuthAudience, a.userAudience),
		env(contract.EnvAuthRolesClaim, a.rolesClaim),
		envOf(contract.EnvServiceIssuer, a.serviceIssuer),
		envOf(contract.EnvServiceJWKSURI, a.serviceJWKSURI))
	if cfg.Target == config.Local && cfg.AuthJWKS != "" {
		out = append(out, env(contract.EnvAuthJWKS, cfg.AuthJWKS))
	} else {
		out = append(out, envOf(contract.EnvAuthJWKSURI, a.userJWKSURI))
	}
	if a.kubeAPI {
		out = append(out, env(contract.EnvServiceJWKSCAFile, workloads.KubeAPIAccessCA), env(contract.EnvServiceJWKSTokenFile, workloads.KubeAPIAccessToken))
	}
	return out
}

func envOf(key string, value pulumi.StringInput) corev1.EnvVarArgs {
	return corev1.EnvVarArgs{Name: pulumi.String(key), Value: value}
}

func env(key, value string) corev1.EnvVarArgs {
	return corev1.EnvVarArgs{Name: pulumi.String(key), Value: pulumi.String(value)}
}
