// Package workloads deploys one rental service: ServiceAccount, Deployment,
// Service, PodDisruptionBudget, NetworkPolicy and, when configured, a
// HorizontalPodAutoscaler, with the write-up's probe and resource values.
package workloads

import (
	"fmt"
	"path"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/config"
	"github.com/carrental/carrental/infra/monitoring"
	"github.com/carrental/carrental/svc/contract"
)

// The write-up's liveness probe (payment's Deployment): the /tmp/healthy
// file checked by exec, 3s initial delay, 2s timeout, every 5s, restart
// after 5 failures. We exec the service binary's probe subcommand instead
// of `cat`, so the image needs no shell and no cat.
const (
	LivenessInitialDelaySeconds = 3
	LivenessTimeoutSeconds      = 2
	LivenessPeriodSeconds       = 5
	LivenessFailureThreshold    = 5
)

// The write-up's container resources: cpu request 200m, limit 500m.
const (
	CPURequest = "200m"
	CPULimit   = "500m"
)

// Local disk: the root filesystem is read-only, so a service writes only
// its logs and two emptyDirs, /tmp (the liveness file) and /data (SQLite
// when no database is configured). Bounded, so a runaway writer is evicted
// instead of filling the node.
const (
	EphemeralStorageRequest = "64Mi"
	EphemeralStorageLimit   = "256Mi"
	TmpSizeLimit            = "16Mi"
	DataSizeLimit           = "128Mi"
)

// Readiness is ours, not the write-up's: /readyz checks the database and
// NATS every 5s, and three misses in a row take the pod out of its Service.
const (
	ReadinessPeriodSeconds    = 5
	ReadinessTimeoutSeconds   = 2
	ReadinessFailureThreshold = 3
)

// Rolling updates and shutdown, so that neither drops a request: a
// rollout never goes below the desired count (one extra pod at a time, none
// taken away before its replacement is ready), and a pod that is going away
// keeps serving for PreStopSleepSeconds while the endpoints controller and
// kube-proxy (or the mesh) stop sending it traffic. Only then does SIGTERM
// start the service's own drain (SHUTDOWN_DRAIN), and the grace period
// outlasts both.
const (
	MaxSurge                      = 1
	MaxUnavailable                = 0
	PreStopSleepSeconds           = 5
	TerminationGracePeriodSeconds = 30
)

// BinaryPath is where ko puts a service's binary in its image.
func BinaryPath(s contract.Service) string { return "/ko-app/" + string(s) }

// NonRootUID is the image's user (distroless/Chainguard "nonroot").
const NonRootUID = 65532

// ServiceArgs configure one service.
type ServiceArgs struct {
	Service     contract.Service
	Namespace   pulumi.StringInput
	Image       pulumi.StringInput
	Env         corev1.EnvVarArray
	Volumes     corev1.VolumeArray
	Mounts      corev1.VolumeMountArray
	Autoscaling *config.Autoscaling // nil: a fixed single replica
	// ZoneSpread is config.SpreadRequired or config.SpreadPreferred.
	ZoneSpread  string
	MemoryReq   string
	MemoryLimit string
	SkipAwait   bool
	// ImagePullPolicy is Always for registry images; IfNotPresent for
	// images loaded into kind or minikube, which no registry serves.
	ImagePullPolicy string
	// IngressFrom are namespaces whose pods may call this service besides
	// its callers in contract.Calls (the ingress gateway's, for gateway).
	IngressFrom []string
	// Egress are destinations outside the cluster this service may reach.
	Egress networkingv1.NetworkPolicyEgressRuleArray
	// DependsOn is applied to every workload object, not just the
	// component: children do not inherit their parent's dependencies.
	DependsOn []pulumi.Resource
	// KubeAPIAccess mounts a token for the Kubernetes API and its CA at
	// KubeAPIAccessDir (the place automounting would use, which stays
	// off): on a local cluster the services fetch the ServiceAccount
	// issuer's keys from the API server's /openid/v1/jwks, which asks
	// for a token. AWS needs none: EKS's OIDC keys are public.
	KubeAPIAccess bool
}

// Service identity (docs/design-auth.md): every pod gets a projected
// ServiceAccount token for the audience contract.ServiceAudience at
// contract.ServiceTokenFile, which kubelet rotates before it expires
// (the service re-reads it), and its namespace through the downward API.
const (
	ServiceTokenVolume = "service-token"
	KubeAPIAccessDir   = "/var/run/secrets/kubernetes.io/serviceaccount"
	KubeAPIAccessToken = KubeAPIAccessDir + "/token"
	KubeAPIAccessCA    = KubeAPIAccessDir + "/ca.crt"
	kubeAPIVolume      = "kube-api-access"
)

// Service is one deployed microservice.
type Service struct {
	pulumi.ResourceState
	Deployment *appsv1.Deployment
	Service    *corev1.Service
	HPA        *autoscalingv2.HorizontalPodAutoscaler
}

// componentType stays "carrental:app:Service", the name the package had
// when stacks were first deployed: a new type would change every URN and
// make Pulumi replace the running workloads.
const componentType = "carrental:app:Service"

// NewService declares one service's workload: its ServiceAccount,
// Deployment, NetworkPolicy, Service, PodDisruptionBudget and, when it
// autoscales, its HorizontalPodAutoscaler.
func NewService(ctx *pulumi.Context, args ServiceArgs, opts ...pulumi.ResourceOption) (*Service, error) {
	s := &Service{}
	if err := ctx.RegisterComponentResource(componentType, string(args.Service), s, opts...); err != nil {
		return nil, err
	}
	w := workload{ctx: ctx, args: args, child: pulumi.Composite(pulumi.Parent(s), pulumi.DependsOn(args.DependsOn))}
	sa, err := corev1.NewServiceAccount(ctx, w.name(), &corev1.ServiceAccountArgs{
		Metadata: w.meta(),
		// No token for the Kubernetes API by default: the pods get their
		// own identity token (audience contract.ServiceAudience) instead,
		// and an API token only where KubeAPIAccess asks for one.
		AutomountServiceAccountToken: pulumi.Bool(false),
	}, w.child)
	if err != nil {
		return nil, err
	}
	if s.Deployment, err = w.deployment(sa); err != nil {
		return nil, err
	}
	if _, err := networkingv1.NewNetworkPolicy(ctx, w.name(), &networkingv1.NetworkPolicyArgs{
		Metadata: w.meta(),
		Spec:     networkPolicy(args.Service, args.IngressFrom, args.Egress),
	}, w.child); err != nil {
		return nil, err
	}
	if s.Service, err = w.service(); err != nil {
		return nil, err
	}
	if _, err := w.disruptionBudget(); err != nil {
		return nil, err
	}
	if args.Autoscaling != nil {
		if s.HPA, err = w.autoscaler(*args.Autoscaling); err != nil {
			return nil, err
		}
	}
	return s, ctx.RegisterResourceOutputs(s, pulumi.Map{})
}

// workload declares the objects of one service.
type workload struct {
	ctx   *pulumi.Context
	args  ServiceArgs
	child pulumi.ResourceOption
}

func (w workload) name() string { return string(w.args.Service) }

func (w workload) labels() pulumi.StringMap {
	return pulumi.StringMap{"app": pulumi.String(w.name()), "app.kubernetes.io/part-of": pulumi.String("carrental")}
}

func (w workload) selector() *metav1.LabelSelectorArgs {
	return &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(w.name())}}
}

func (w workload) meta() *metav1.ObjectMetaArgs { return w.metaWith(pulumi.StringMap{}) }

func (w workload) metaWith(annotations pulumi.StringMap) *metav1.ObjectMetaArgs {
	if w.args.SkipAwait {
		// Only for clusters with no kubelet (the offline test bed), where
		// Deployments never become ready. Never set for AWS.
		annotations["pulumi.com/skipAwait"] = pulumi.String("true")
	}
	return &metav1.ObjectMetaArgs{Name: pulumi.String(w.name()), Namespace: w.args.Namespace, Labels: w.labels(), Annotations: annotations}
}

func (w workload) deployment(sa *corev1.ServiceAccount) (*appsv1.Deployment, error) {
	podSpec := &corev1.PodSpecArgs{
		ServiceAccountName:           sa.Metadata.Name().Elem(),
		AutomountServiceAccountToken: pulumi.Bool(false),
		SecurityContext: &corev1.PodSecurityContextArgs{
			RunAsNonRoot:   pulumi.Bool(true),
			FsGroup:        pulumi.Int(NonRootUID),
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
		Containers:                    corev1.ContainerArray{w.container()},
		Volumes:                       w.volumes(),
		TerminationGracePeriodSeconds: pulumi.Int(TerminationGracePeriodSeconds),
	}
	spec := &appsv1.DeploymentSpecArgs{
		Selector: w.selector(),
		Strategy: &appsv1.DeploymentStrategyArgs{
			Type: pulumi.String("RollingUpdate"),
			RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
				MaxSurge: pulumi.Int(MaxSurge), MaxUnavailable: pulumi.Int(MaxUnavailable),
			},
		},
		Template: &corev1.PodTemplateSpecArgs{Metadata: &metav1.ObjectMetaArgs{Labels: w.labels(),
			// Where the pod's metrics are: a sidecar's agent merges them
			// from there onto the port Prometheus scrapes under mTLS.
			Annotations: pulumi.ToStringMap(monitoring.ScrapeAnnotations())}, Spec: podSpec},
	}
	podSpec.TopologySpreadConstraints = spread(w.name(), w.args.ZoneSpread)
	if w.args.Autoscaling == nil {
		// With an HPA it owns the replica count: a replicas field here
		// would reset it to the minimum on every `pulumi up`. Without one,
		// a single pod.
		spec.Replicas = pulumi.Int(1)
	}
	// kube-score asks for a host podAntiAffinity and does not read
	// topology spread constraints, which do the same (and zones too).
	meta := w.metaWith(pulumi.StringMap{"kube-score/ignore": pulumi.String("deployment-has-host-podantiaffinity")})
	return appsv1.NewDeployment(w.ctx, w.name(), &appsv1.DeploymentArgs{Metadata: meta, Spec: spec}, w.child)
}

// volumes: the root filesystem is read-only, so /tmp (the liveness file)
// and /data are emptyDirs, besides what the service mounts itself.
func (w workload) volumes() corev1.VolumeArray {
	vols := corev1.VolumeArray{
		corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String(TmpSizeLimit)}},
		corev1.VolumeArgs{Name: pulumi.String("data"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String(DataSizeLimit)}},
		corev1.VolumeArgs{Name: pulumi.String(ServiceTokenVolume), Projected: &corev1.ProjectedVolumeSourceArgs{
			Sources: corev1.VolumeProjectionArray{corev1.VolumeProjectionArgs{ServiceAccountToken: &corev1.ServiceAccountTokenProjectionArgs{
				Audience:          pulumi.String(contract.ServiceAudience),
				ExpirationSeconds: pulumi.Int(int(contract.ServiceTokenLifetime.Seconds())),
				Path:              pulumi.String(path.Base(contract.ServiceTokenFile)),
			}}},
		}},
	}
	if w.args.KubeAPIAccess {
		// What automounting would project: a token for the API server's
		// own audience, its CA (kube-root-ca.crt, published in every
		// namespace) and the namespace.
		vols = append(vols, corev1.VolumeArgs{Name: pulumi.String(kubeAPIVolume), Projected: &corev1.ProjectedVolumeSourceArgs{
			Sources: corev1.VolumeProjectionArray{
				corev1.VolumeProjectionArgs{ServiceAccountToken: &corev1.ServiceAccountTokenProjectionArgs{
					ExpirationSeconds: pulumi.Int(int(contract.ServiceTokenLifetime.Seconds())), Path: pulumi.String("token"),
				}},
				corev1.VolumeProjectionArgs{ConfigMap: &corev1.ConfigMapProjectionArgs{
					Name:  pulumi.String("kube-root-ca.crt"),
					Items: corev1.KeyToPathArray{corev1.KeyToPathArgs{Key: pulumi.String("ca.crt"), Path: pulumi.String("ca.crt")}},
				}},
				corev1.VolumeProjectionArgs{DownwardAPI: &corev1.DownwardAPIProjectionArgs{
					Items: corev1.DownwardAPIVolumeFileArray{corev1.DownwardAPIVolumeFileArgs{
						Path: pulumi.String("namespace"), FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.namespace")},
					}},
				}},
			},
		}})
	}
	return append(vols, w.args.Volumes...)
}

// env is what every service reads, its upstreams' in-cluster URLs, and
// the service's own settings.
func (w workload) env() corev1.EnvVarArray {
	env := append(corev1.EnvVarArray{
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvAddr), Value: pulumi.String(fmt.Sprintf(":%d", contract.HTTPPort))},
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvDataDir), Value: pulumi.String("/data")},
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvHealthyFile), Value: pulumi.String(contract.HealthyFile)},
		// Fault injection and the liveness experiment, on the pod's
		// loopback only: `kubectl exec` reaches it, the network does not.
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvAdminAddr), Value: pulumi.String(contract.PodAdminAddr())},
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvServiceTokenFile), Value: pulumi.String(contract.ServiceTokenFile)},
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvNamespace), ValueFrom: &corev1.EnvVarSourceArgs{
			FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.namespace")},
		}},
	}, w.args.Env...)
	for _, up := range contract.Calls()[w.args.Service] {
		env = append(env, corev1.EnvVarArgs{Name: pulumi.String(contract.EnvURL(up)), Value: pulumi.String(contract.InClusterURL(up))})
	}
	return env
}

func (w workload) container() corev1.ContainerArgs {
	return corev1.ContainerArgs{
		Name:            pulumi.String(w.name()),
		Image:           w.args.Image,
		ImagePullPolicy: pulumi.String(w.args.ImagePullPolicy),
		Ports: corev1.ContainerPortArray{corev1.ContainerPortArgs{
			Name: pulumi.String(contract.HTTPPortName), ContainerPort: pulumi.Int(contract.HTTPPort),
		}},
		Env:          w.env(),
		VolumeMounts: append(w.mounts(), w.args.Mounts...),
		Resources: &corev1.ResourceRequirementsArgs{
			Requests: pulumi.StringMap{"cpu": pulumi.String(CPURequest), "memory": pulumi.String(w.args.MemoryReq), "ephemeral-storage": pulumi.String(EphemeralStorageRequest)},
			Limits:   pulumi.StringMap{"cpu": pulumi.String(CPULimit), "memory": pulumi.String(w.args.MemoryLimit), "ephemeral-storage": pulumi.String(EphemeralStorageLimit)},
		},
		LivenessProbe: &corev1.ProbeArgs{
			Exec:                &corev1.ExecActionArgs{Command: pulumi.StringArray{pulumi.String(BinaryPath(w.args.Service)), pulumi.String(contract.ProbeSubcommand)}},
			InitialDelaySeconds: pulumi.Int(LivenessInitialDelaySeconds),
			TimeoutSeconds:      pulumi.Int(LivenessTimeoutSeconds),
			PeriodSeconds:       pulumi.Int(LivenessPeriodSeconds),
			FailureThreshold:    pulumi.Int(LivenessFailureThreshold),
		},
		Lifecycle: &corev1.LifecycleArgs{PreStop: &corev1.LifecycleHandlerArgs{
			Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(PreStopSleepSeconds)},
		}},
		ReadinessProbe: &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(contract.PathReadyz), Port: pulumi.String(contract.HTTPPortName)},
			PeriodSeconds:    pulumi.Int(ReadinessPeriodSeconds),
			TimeoutSeconds:   pulumi.Int(ReadinessTimeoutSeconds),
			FailureThreshold: pulumi.Int(ReadinessFailureThreshold),
		},
		SecurityContext: &corev1.SecurityContextArgs{
			RunAsNonRoot:             pulumi.Bool(true),
			RunAsUser:                pulumi.Int(NonRootUID),
			RunAsGroup:               pulumi.Int(NonRootUID),
			ReadOnlyRootFilesystem:   pulumi.Bool(true),
			AllowPrivilegeEscalation: pulumi.Bool(false),
			Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
			SeccompProfile:           &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
	}
}

func (w workload) mounts() corev1.VolumeMountArray {
	m := corev1.VolumeMountArray{
		corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
		corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String("/data")},
		corev1.VolumeMountArgs{Name: pulumi.String(ServiceTokenVolume), MountPath: pulumi.String(contract.ServiceTokenDir), ReadOnly: pulumi.Bool(true)},
	}
	if w.args.KubeAPIAccess {
		m = append(m, corev1.VolumeMountArgs{Name: pulumi.String(kubeAPIVolume), MountPath: pulumi.String(KubeAPIAccessDir), ReadOnly: pulumi.Bool(true)})
	}
	return m
}

func (w workload) service() (*corev1.Service, error) {
	return corev1.NewService(w.ctx, w.name(), &corev1.ServiceArgs{
		Metadata: w.meta(),
		Spec: &corev1.ServiceSpecArgs{
			Selector: pulumi.StringMap{"app": pulumi.String(w.name())},
			Ports: corev1.ServicePortArray{corev1.ServicePortArgs{
				Name: pulumi.String(contract.HTTPPortName), Port: pulumi.Int(contract.HTTPPort), TargetPort: pulumi.String(contract.HTTPPortName),
			}},
		},
	}, w.child)
}

// disruptionBudget lets a drain evict one pod of the service at a time:
// the others keep serving while it is replaced, and a single-replica
// service is never held up forever (minAvailable 1 would block its node's
// drain).
func (w workload) disruptionBudget() (*policyv1.PodDisruptionBudget, error) {
	pdb := &policyv1.PodDisruptionBudgetSpecArgs{Selector: w.selector(), MaxUnavailable: pulumi.Int(DisruptionBudgetMaxUnavailable)}
	return policyv1.NewPodDisruptionBudget(w.ctx, w.name(), &policyv1.PodDisruptionBudgetArgs{Metadata: w.meta(), Spec: pdb}, w.child)
}

func (w workload) autoscaler(a config.Autoscaling) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	return autoscalingv2.NewHorizontalPodAutoscaler(w.ctx, w.name(), &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: w.meta(),
		Spec: &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
			ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
				ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: pulumi.String(w.name()),
			},
			MinReplicas: pulumi.Int(a.MinReplicas),
			MaxReplicas: pulumi.Int(a.MaxReplicas),
			Behavior:    behavior(a),
			Metrics: autoscalingv2.MetricSpecArray{autoscalingv2.MetricSpecArgs{
				Type: pulumi.String("Resource"),
				Resource: &autoscalingv2.ResourceMetricSourceArgs{
					Name:   pulumi.String("cpu"),
					Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(a.CPUPercent)},
				},
			}},
		},
	}, w.child)
}

// behavior is Kubernetes' default scaling unless the stack shortens the
// scale-down window (a test cluster that wants to see the way back down).
func behavior(a config.Autoscaling) autoscalingv2.HorizontalPodAutoscalerBehaviorPtrInput {
	if a.ScaleDownSeconds == nil {
		return nil
	}
	return &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
		ScaleDown: &autoscalingv2.HPAScalingRulesArgs{StabilizationWindowSeconds: pulumi.Int(*a.ScaleDownSeconds)},
	}
}

// DisruptionBudgetMaxUnavailable is how many pods of a service a drain
// may take at once.
const DisruptionBudgetMaxUnavailable = 1

// Topology keys Kubernetes (and EKS) label nodes with.
const (
	ZoneKey = "topology.kubernetes.io/zone"
	HostKey = "kubernetes.io/hostname"
)

// spread places a service's pods evenly over zones (required or preferred,
// carrental:zoneSpread), then over nodes (preferred: a second pod on a busy
// node beats no second pod), so losing one zone or one node never takes
// every pod of a service. pod-template-hash keeps a rollout's new pods
// spread among themselves rather than against the old ones.
func spread(name, zones string) corev1.TopologySpreadConstraintArray {
	zoneRule := "DoNotSchedule"
	if zones == config.SpreadPreferred {
		zoneRule = "ScheduleAnyway"
	}
	constraint := func(key, rule string) corev1.TopologySpreadConstraintArgs {
		return corev1.TopologySpreadConstraintArgs{
			MaxSkew:           pulumi.Int(1),
			TopologyKey:       pulumi.String(key),
			WhenUnsatisfiable: pulumi.String(rule),
			LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(name)}},
			MatchLabelKeys:    pulumi.StringArray{pulumi.String("pod-template-hash")},
		}
	}
	return corev1.TopologySpreadConstraintArray{constraint(ZoneKey, zoneRule), constraint(HostKey, "ScheduleAnyway")}
}

// RentalRegion is the write-up's ConfigMap rental-region, with its keys
// spelled right (the write-up's "contury" was a typo).
func RentalRegion(ctx *pulumi.Context, namespace pulumi.StringInput, country, region string, opts ...pulumi.ResourceOption) (*corev1.ConfigMap, error) {
	return corev1.NewConfigMap(ctx, contract.RentalConfigMapName, &corev1.ConfigMapArgs{
		Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(contract.RentalConfigMapName), Namespace: namespace},
		Data: pulumi.StringMap{
			contract.ConfigKeyCountry: pulumi.String(country),
			contract.ConfigKeyRegion:  pulumi.String(region),
		},
	}, opts...)
}

// RentalRegionWiring is how rental reads the ConfigMap: env vars COUNTRY
// and REGION through configMapKeyRef, and a read-only volume at /config
// that Kubernetes updates in place.
func RentalRegionWiring() (corev1.EnvVarArray, corev1.VolumeArray, corev1.VolumeMountArray) {
	ref := func(key string) *corev1.EnvVarSourceArgs {
		return &corev1.EnvVarSourceArgs{ConfigMapKeyRef: &corev1.ConfigMapKeySelectorArgs{
			Name: pulumi.String(contract.RentalConfigMapName), Key: pulumi.String(key),
		}}
	}
	env := corev1.EnvVarArray{
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvCountry), ValueFrom: ref(contract.ConfigKeyCountry)},
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvRegion), ValueFrom: ref(contract.ConfigKeyRegion)},
		corev1.EnvVarArgs{Name: pulumi.String(contract.EnvConfigDir), Value: pulumi.String(contract.ConfigDir)},
	}
	volumes := corev1.VolumeArray{corev1.VolumeArgs{
		Name:      pulumi.String("config"),
		ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String(contract.RentalConfigMapName)},
	}}
	mounts := corev1.VolumeMountArray{corev1.VolumeMountArgs{
		Name: pulumi.String("config"), MountPath: pulumi.String(contract.ConfigDir), ReadOnly: pulumi.Bool(true),
	}}
	return env, volumes, mounts
}
