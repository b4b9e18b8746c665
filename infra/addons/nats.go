package addons

import (
	"fmt"
	"hash/fnv"
	"strings"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	networkingv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/networking/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/versions"
)

// NATS with JetStream as our own StatefulSet (natsMode statefulset): one
// server, or a cluster of three or five whose streams survive losing one.
// Declared here rather than through the NATS chart so the same objects run
// on EKS and in a cluster with no chart repository in reach, and so they
// are held to the app's standard (probes, limits, non-root, a policy).
const (
	NATSImage      = "docker.io/library/nats:" + NATSVersion
	NATSVersion    = versions.NATS
	natsName       = "nats"
	natsHeadless   = "nats-headless"
	natsClientPort = 4222
	natsRoutePort  = 6222
	natsHTTPPort   = 8222
	natsDataDir    = "/data"
)

// NATSClusterURL is the event bus' in-cluster URL.
const NATSClusterURL = "nats://" + natsName + "." + NATSNamespace + ".svc.cluster.local:4222"

var natsResources = resources{CPU: [2]string{"100m", "1"}, Memory: [2]string{"128Mi", "512Mi"}, Disk: [2]string{"64Mi", "256Mi"}}

// NATSArgs configure the event bus.
type NATSArgs struct {
	Replicas   int
	Storage    string // a PVC size, or "emptyDir"
	PullPolicy string
	AppNS      string // whose pods may connect as clients
	SkipAwait  bool
}

// natsConfig is nats-server's configuration. server_name comes from the
// pod's name ($POD_NAME), which JetStream clustering needs to be stable.
func natsConfig(replicas int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: $POD_NAME\nport: %d\nhttp_port: %d\n", natsClientPort, natsHTTPPort)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n}\n", natsDataDir)
	// A stopping server hands its clients to the others first (30s is
	// nats-server's minimum).
	b.WriteString("lame_duck_duration: 30s\nlame_duck_grace_period: 10s\n")
	if replicas > 1 {
		routes := make([]string, replicas)
		for i := range routes {
			routes[i] = fmt.Sprintf("nats://%s-%d.%s.%s.svc.cluster.local:%d", natsName, i, natsHeadless, NATSNamespace, natsRoutePort)
		}
		fmt.Fprintf(&b, "cluster {\n  name: carrental\n  port: %d\n  routes: [\n    %s\n  ]\n}\n", natsRoutePort, strings.Join(routes, "\n    "))
	}
	return b.String()
}

// natsChartValues configure the NATS chart (natsMode helm) like our
// StatefulSet: JetStream on a volume of storage, and with more than one
// server a cluster of that many.
func natsChartValues(replicas int, storage string) map[string]any {
	fileStore := map[string]any{"pvc": map[string]any{"size": storage}}
	if storage == "emptyDir" {
		fileStore = map[string]any{"pvc": map[string]any{"enabled": false}}
	}
	values := map[string]any{"jetstream": map[string]any{"enabled": true, "fileStore": fileStore}}
	if replicas > 1 {
		values["cluster"] = map[string]any{"enabled": true, "replicas": replicas}
	}
	return map[string]any{"config": values}
}

func newNATS(ctx *pulumi.Context, ns *corev1.Namespace, args NATSArgs, opts ...pulumi.ResourceOption) (*appsv1.StatefulSet, error) {
	labels := pulumi.StringMap{"app": pulumi.String(natsName), "app.kubernetes.io/part-of": pulumi.String("carrental")}
	selector := &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(natsName)}}
	annotations := pulumi.StringMap{}
	if args.SkipAwait {
		annotations["pulumi.com/skipAwait"] = pulumi.String("true")
	}
	meta := func(name string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: ns.Metadata.Name(), Labels: labels, Annotations: annotations}
	}
	cm, err := corev1.NewConfigMap(ctx, "nats-config", &corev1.ConfigMapArgs{
		Metadata: meta("nats-config"),
		Data:     pulumi.StringMap{"nats.conf": pulumi.String(natsConfig(args.Replicas))},
	}, opts...)
	if err != nil {
		return nil, err
	}
	port := func(name string, n int) corev1.ServicePortArgs {
		return corev1.ServicePortArgs{Name: pulumi.String(name), Port: pulumi.Int(n), TargetPort: pulumi.String(name)}
	}
	// Routes find their peers by name before they are ready.
	if _, err := corev1.NewService(ctx, natsHeadless, &corev1.ServiceArgs{
		Metadata: meta(natsHeadless),
		Spec: &corev1.ServiceSpecArgs{
			ClusterIP: pulumi.String("None"), PublishNotReadyAddresses: pulumi.Bool(true), Selector: selector.MatchLabels,
			Ports: corev1.ServicePortArray{port("client", natsClientPort), port("cluster", natsRoutePort), port("monitor", natsHTTPPort)},
		},
	}, opts...); err != nil {
		return nil, err
	}
	if _, err := corev1.NewService(ctx, natsName, &corev1.ServiceArgs{
		Metadata: meta(natsName),
		Spec:     &corev1.ServiceSpecArgs{Selector: selector.MatchLabels, Ports: corev1.ServicePortArray{port("client", natsClientPort)}},
	}, opts...); err != nil {
		return nil, err
	}

	data := corev1.VolumeArray{}
	var claims corev1.PersistentVolumeClaimTypeArray
	if args.Storage == "emptyDir" {
		data = append(data, corev1.VolumeArgs{Name: pulumi.String("data"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String("1Gi")}})
	} else {
		claims = corev1.PersistentVolumeClaimTypeArray{corev1.PersistentVolumeClaimTypeArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String("data")},
			Spec: &corev1.PersistentVolumeClaimSpecArgs{
				AccessModes: pulumi.StringArray{pulumi.String("ReadWriteOnce")},
				Resources:   &corev1.VolumeResourceRequirementsArgs{Requests: pulumi.StringMap{"storage": pulumi.String(args.Storage)}},
			},
		}}
	}
	health := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("monitor")},
			PeriodSeconds:    pulumi.Int(period),
			TimeoutSeconds:   pulumi.Int(3),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	res := natsResources.values()
	container := corev1.ContainerArgs{
		Name:            pulumi.String("nats"),
		Image:           pulumi.String(NATSImage),
		ImagePullPolicy: pulumi.String(args.PullPolicy),
		// args only: the image's entrypoint is the server (upstream's
		// /nats-server, or /ko-app/nats-server in an image built here).
		Args: pulumi.StringArray{pulumi.String("--config"), pulumi.String("/etc/nats/nats.conf")},
		Env: corev1.EnvVarArray{corev1.EnvVarArgs{Name: pulumi.String("POD_NAME"),
			ValueFrom: &corev1.EnvVarSourceArgs{FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.name")}}}},
		Ports: corev1.ContainerPortArray{
			corev1.ContainerPortArgs{Name: pulumi.String("client"), ContainerPort: pulumi.Int(natsClientPort)},
			corev1.ContainerPortArgs{Name: pulumi.String("cluster"), ContainerPort: pulumi.Int(natsRoutePort)},
			corev1.ContainerPortArgs{Name: pulumi.String("monitor"), ContainerPort: pulumi.Int(natsHTTPPort)},
		},
		VolumeMounts: corev1.VolumeMountArray{
			corev1.VolumeMountArgs{Name: pulumi.String("config"), MountPath: pulumi.String("/etc/nats"), ReadOnly: pulumi.Bool(true)},
			corev1.VolumeMountArgs{Name: pulumi.String("data"), MountPath: pulumi.String(natsDataDir)},
		},
		Resources: &corev1.ResourceRequirementsArgs{
			Requests: pulumi.ToStringMap(toStrings(res["requests"])), Limits: pulumi.ToStringMap(toStrings(res["limits"])),
		},
		// Started and ready: JetStream is up (in a cluster, with a meta
		// leader). Live: the server answers at all; a cluster that lost its
		// quorum is not a reason to restart a server.
		StartupProbe:   health("/healthz?js-enabled-only=true", 2, 30),
		ReadinessProbe: health("/healthz?js-enabled-only=true", 5, 3),
		LivenessProbe:  health("/healthz", 10, 6),
		SecurityContext: &corev1.SecurityContextArgs{
			RunAsNonRoot: pulumi.Bool(true), RunAsUser: pulumi.Int(nonRootUID), RunAsGroup: pulumi.Int(nonRootUID),
			ReadOnlyRootFilesystem: pulumi.Bool(true), AllowPrivilegeEscalation: pulumi.Bool(false),
			Capabilities:   &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
	}
	set, err := appsv1.NewStatefulSet(ctx, natsName, &appsv1.StatefulSetArgs{
		Metadata: meta(natsName),
		Spec: &appsv1.StatefulSetSpecArgs{
			Replicas:    pulumi.Int(args.Replicas),
			ServiceName: pulumi.String(natsHeadless),
			Selector:    selector,
			// Servers of a cluster start together: each waits for its routes.
			PodManagementPolicy: pulumi.String("Parallel"),
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: labels, Annotations: pulumi.StringMap{
					// A new configuration rolls the servers one by one.
					"carrental/config": pulumi.String(fmt.Sprintf("%x", hash(natsConfig(args.Replicas)))),
				}},
				Spec: &corev1.PodSpecArgs{
					AutomountServiceAccountToken:  pulumi.Bool(false),
					TerminationGracePeriodSeconds: pulumi.Int(60), // lame duck (10s + 30s) and the stream flush
					SecurityContext: &corev1.PodSecurityContextArgs{
						RunAsNonRoot: pulumi.Bool(true), FsGroup: pulumi.Int(nonRootUID),
						SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
					},
					Affinity:   spreadByZone(natsName),
					Containers: corev1.ContainerArray{container},
					Volumes: append(corev1.VolumeArray{corev1.VolumeArgs{Name: pulumi.String("config"),
						ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: cm.Metadata.Name()}}}, data...),
				},
			},
			VolumeClaimTemplates: claims,
		},
	}, opts...)
	if err != nil {
		return nil, err
	}
	// One server at a time may go: a cluster of three keeps its quorum.
	if _, err := policyv1.NewPodDisruptionBudget(ctx, natsName, &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta(natsName),
		Spec:     &policyv1.PodDisruptionBudgetSpecArgs{Selector: selector, MaxUnavailable: pulumi.Int(1)},
	}, opts...); err != nil {
		return nil, err
	}
	return set, natsPolicy(ctx, meta(natsName), args.AppNS, opts...)
}

// natsPolicy: clients only from the app's namespace, routes only between
// the servers; out, only to each other (routes) and DNS.
func natsPolicy(ctx *pulumi.Context, meta *metav1.ObjectMetaArgs, appNS string, opts ...pulumi.ResourceOption) error {
	servers := networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
		PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(natsName)}},
	}}
	tcp := func(n int) networkingv1.NetworkPolicyPortArray {
		return networkingv1.NetworkPolicyPortArray{networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(n)}}
	}
	_, err := networkingv1.NewNetworkPolicy(ctx, natsName, &networkingv1.NetworkPolicyArgs{
		Metadata: meta,
		Spec: &networkingv1.NetworkPolicySpecArgs{
			PodSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(natsName)}},
			PolicyTypes: pulumi.StringArray{pulumi.String("Ingress"), pulumi.String("Egress")},
			Ingress: networkingv1.NetworkPolicyIngressRuleArray{
				networkingv1.NetworkPolicyIngressRuleArgs{
					From: networkingv1.NetworkPolicyPeerArray{networkingv1.NetworkPolicyPeerArgs{
						NamespaceSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"kubernetes.io/metadata.name": pulumi.String(appNS)}},
					}},
					Ports: tcp(natsClientPort),
				},
				networkingv1.NetworkPolicyIngressRuleArgs{From: servers, Ports: tcp(natsRoutePort)},
			},
			Egress: networkingv1.NetworkPolicyEgressRuleArray{
				networkingv1.NetworkPolicyEgressRuleArgs{To: servers, Ports: tcp(natsRoutePort)},
				// DNS, wherever the cluster runs it.
				networkingv1.NetworkPolicyEgressRuleArgs{Ports: networkingv1.NetworkPolicyPortArray{
					networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("UDP"), Port: pulumi.Int(53)},
					networkingv1.NetworkPolicyPortArgs{Protocol: pulumi.String("TCP"), Port: pulumi.Int(53)},
				}},
			},
		},
	}, opts...)
	return err
}

// spreadByZone prefers servers in different zones, then on different
// nodes, so one lost zone or node costs at most one server.
func spreadByZone(app string) *corev1.AffinityArgs {
	term := func(weight int, key string) corev1.WeightedPodAffinityTermArgs {
		return corev1.WeightedPodAffinityTermArgs{
			Weight: pulumi.Int(weight),
			PodAffinityTerm: &corev1.PodAffinityTermArgs{
				TopologyKey:   pulumi.String(key),
				LabelSelector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.StringMap{"app": pulumi.String(app)}},
			},
		}
	}
	return &corev1.AffinityArgs{PodAntiAffinity: &corev1.PodAntiAffinityArgs{
		PreferredDuringSchedulingIgnoredDuringExecution: corev1.WeightedPodAffinityTermArray{
			term(100, "topology.kubernetes.io/zone"), term(50, "kubernetes.io/hostname"),
		},
	}}
}

func toStrings(v any) map[string]string {
	out := map[string]string{}
	for k, x := range v.(map[string]any) {
		out[k] = x.(string)
	}
	return out
}

// hash is enough to notice a changed configuration.
func hash(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}
