// Package addons installs the platform the app runs on: metrics-server
// (for the HPA) and Istio (base CRDs, istiod, an ingress gateway) from Helm
// charts, NATS with JetStream (the event bus) as our own StatefulSet or
// from its chart, and the app namespace with sidecar injection, created
// after istiod so every pod gets its proxy. In mesh mode "policies" only
// Istio's CRDs are installed: the mesh's policies are declared and
// validated, and no sidecar runs.
package addons

import (
	"os"
	"path/filepath"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	helmv4 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/helm/v4"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/carrental/carrental/infra/config"
)

// Namespaces of the add-ons.
const (
	IstioNamespace   = "istio-system"
	IngressNamespace = "istio-ingress"
	NATSNamespace    = "nats"

	metricsServerNamespace = "kube-system"
)

// IngressPrincipal is the ingress gateway's mTLS identity (the chart names
// its ServiceAccount after the release).
const IngressPrincipal = "cluster.local/ns/" + IngressNamespace + "/sa/istio-ingressgateway"

// Args configure the add-ons.
type Args struct {
	AppNamespace  string
	MetricsServer config.Chart
	Istio         config.Chart
	MeshMode      string // config.MeshSidecars or config.MeshPolicies
	NATS          config.Chart
	NATSMode      string
	NATSReplicas  int
	NATSStorage   string
	// PullPolicy is for the images we pin (metrics-server, NATS): Always
	// where a registry serves them, IfNotPresent where they were loaded.
	PullPolicy string
	SkipAwait  bool
}

// Addons are the installed add-ons.
type Addons struct {
	pulumi.ResourceState
	// Istiod is the control plane (in mode policies, the CRDs): mesh
	// resources and workloads depend on it.
	Istiod    pulumi.Resource
	Ingress   pulumi.Resource // the ingress gateway chart; nil in mode policies
	Namespace *corev1.Namespace
	// NATSURL is the in-cluster URL of the event bus ("" when not installed).
	NATSURL string
}

// New installs the add-ons.
func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Addons, error) {
	a := &Addons{}
	if err := ctx.RegisterComponentResource("carrental:addons:Addons", name, a, opts...); err != nil {
		return nil, err
	}
	child := pulumi.Parent(a)
	annotations := pulumi.StringMap{}
	if args.SkipAwait {
		annotations["pulumi.com/skipAwait"] = pulumi.String("true")
	}
	ns := func(n string, labels pulumi.StringMap, deps ...pulumi.Resource) (*corev1.Namespace, error) {
		return corev1.NewNamespace(ctx, n, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{Name: pulumi.String(n), Labels: labels, Annotations: annotations},
		}, child, pulumi.DependsOn(deps))
	}

	metricsServer, err := chart(ctx, "metrics-server", args.MetricsServer, "metrics-server", metricsServerNamespace,
		pulumi.ToMap(metricsServerValues(args.PullPolicy)), args.SkipAwait, child)
	if err != nil {
		return nil, err
	}
	if err := metricsServerPolicy(ctx, child, pulumi.DependsOn([]pulumi.Resource{metricsServer})); err != nil {
		return nil, err
	}

	istioNS, err := ns(IstioNamespace, nil)
	if err != nil {
		return nil, err
	}
	base, err := chart(ctx, "istio-base", args.Istio, "base", IstioNamespace, pulumi.Map{
		"defaultRevision": pulumi.String("default"),
	}, args.SkipAwait, child, pulumi.DependsOn([]pulumi.Resource{istioNS}))
	if err != nil {
		return nil, err
	}
	appLabels := pulumi.StringMap{}
	a.Istiod = base
	if args.MeshMode != config.MeshPolicies {
		istiod, err := chart(ctx, "istiod", args.Istio, "istiod", IstioNamespace, pulumi.ToMap(istiodValues(args.Istio.Version)), args.SkipAwait, child,
			pulumi.DependsOn([]pulumi.Resource{base}))
		if err != nil {
			return nil, err
		}
		a.Istiod = istiod
		ingressNS, err := ns(IngressNamespace, pulumi.StringMap{"istio-injection": pulumi.String("enabled")}, istiod)
		if err != nil {
			return nil, err
		}
		if a.Ingress, err = chart(ctx, "istio-ingressgateway", args.Istio, "gateway", IngressNamespace,
			pulumi.ToMap(ingressValues(args.Istio.Version)), args.SkipAwait, child, pulumi.DependsOn([]pulumi.Resource{ingressNS, istiod})); err != nil {
			return nil, err
		}
		appLabels["istio-injection"] = pulumi.String("enabled")
	}

	switch args.NATSMode {
	case "statefulset":
		natsNS, err := ns(NATSNamespace, nil)
		if err != nil {
			return nil, err
		}
		if _, err := newNATS(ctx, natsNS, NATSArgs{Replicas: args.NATSReplicas, Storage: args.NATSStorage, PullPolicy: args.PullPolicy,
			AppNS: args.AppNamespace, SkipAwait: args.SkipAwait}, child); err != nil {
			return nil, err
		}
		a.NATSURL = NATSClusterURL
	case "helm":
		natsNS, err := ns(NATSNamespace, nil)
		if err != nil {
			return nil, err
		}
		if _, err := chart(ctx, "nats", args.NATS, "nats", NATSNamespace, pulumi.ToMap(natsChartValues(args.NATSReplicas, args.NATSStorage)), args.SkipAwait, child, pulumi.DependsOn([]pulumi.Resource{natsNS})); err != nil {
			return nil, err
		}
		a.NATSURL = NATSClusterURL
	}

	// Created after istiod: the injection webhook must exist before the
	// first app pod, or that pod runs without its sidecar.
	a.Namespace, err = ns(args.AppNamespace, appLabels, a.Istiod)
	if err != nil {
		return nil, err
	}
	return a, ctx.RegisterResourceOutputs(a, pulumi.Map{})
}

// chartDirs are where charts sit in a directory of charts (Istio's layout).
var chartDirs = map[string]string{
	"base":           "base",
	"istiod":         "istio-control/istio-discovery",
	"gateway":        "gateway",
	"metrics-server": "metrics-server",
	"nats":           "nats",
}

// chart installs one chart from its repository or, offline, a local path.
func chart(ctx *pulumi.Context, name string, src config.Chart, chartName, namespace string, values pulumi.Map, skipAwait bool, opts ...pulumi.ResourceOption) (*helmv4.Chart, error) {
	args := &helmv4.ChartArgs{
		Namespace: pulumi.String(namespace),
		Values:    values,
		SkipAwait: pulumi.Bool(skipAwait),
	}
	if src.Path != "" {
		// A path names the chart itself, or a directory of charts such as
		// Istio's manifests/charts (base, istio-control/istio-discovery, gateway).
		path := src.Path
		if sub, ok := chartDirs[chartName]; ok {
			if _, statErr := os.Stat(filepath.Join(path, sub, "Chart.yaml")); statErr == nil {
				path = filepath.Join(path, sub)
			}
		}
		args.Chart = pulumi.String(path)
	} else {
		args.Chart = pulumi.String(chartName)
		args.Version = pulumi.String(src.Version)
		args.RepositoryOpts = &helmv4.RepositoryOptsArgs{Repo: pulumi.String(src.Repo)}
	}
	return helmv4.NewChart(ctx, name, args, opts...)
}
