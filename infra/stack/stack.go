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
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/addons"
	"github.com/carrental/carrental/infra/cluster"
	"github.com/carrental/carrental/infra/config"
	"github.com/carrental/carrental/infra/database"
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
}

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
	if _, err := mesh.NewPolicies(ctx, "mesh", mesh.PoliciesArgs{Namespace: cfg.Namespace, IngressPrincipal: addons.IngressPrincipal,
		Resilience: cfg.Resilience, DependsOn: istio}, k8s); err != nil {
		return err
	}

	if cfg.MonitoringEnabled {
		if _, err := monitoring.New(ctx, "monitoring", monitoring.Args{
			Namespace: cfg.Namespace, MonitoringNamespace: cfg.MonitoringNamespace, Release: cfg.MonitoringRelease,
			Objectives: monitoring.DefaultObjectives(), DependsOn: []pulumi.Resource{add.Namespace},
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
	if p.hasDatabase {
		secret, err := corev1.NewSecret(ctx, "database", &corev1.SecretArgs{
			Metadata:   &metav1.ObjectMetaArgs{Name: pulumi.String("carrental-database"), Namespace: ns},
			StringData: pulumi.StringMap{"url": p.databaseURL},
		}, k8s, afterIstio)
		if err != nil {
			return err
		}
		shared = append(shared, corev1.EnvVarArgs{Name: pulumi.String(contract.EnvDatabaseURL), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: secret.Metadata.Name().Elem(), Key: pulumi.String("url")},
		}})
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
		args := workloads.ServiceArgs{
			Service: s, Namespace: ns, Image: imgs[s], ImagePullPolicy: cfg.ImagePullPolicy, Env: shared,
			MemoryReq: cfg.MemoryRequest, MemoryLimit: cfg.MemoryLimit, SkipAwait: cfg.SkipAwait, Egress: egress,
			ZoneSpread: cfg.ZoneSpread,
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
			args.Env = append(append(corev1.EnvVarArray{}, shared...), env...)
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

func env(key, value string) corev1.EnvVarArgs {
	return corev1.EnvVarArgs{Name: pulumi.String(key), Value: pulumi.String(value)}
}
