// Package config is the stack's typed configuration: every knob of
// `pulumi config`, with its default in code, loaded once. The README's
// table lists them; Pulumi.dev.yaml sets each with a comment.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/carrental/carrental/infra/versions"
	"github.com/carrental/carrental/svc/contract"
)

// Target selects what a stack builds.
type Target string

const (
	// AWS builds the network, EKS, ECR and RDS, then deploys into EKS.
	AWS Target = "aws"
	// Local declares no AWS resource: it deploys into the cluster of a
	// kubeconfig (kind, minikube, k3d, any cluster).
	Local Target = "local"
)

// Chart says where a Helm chart comes from: a repository and version, or a
// local path (offline runs).
type Chart struct {
	Repo    string `json:"repo"`
	Version string `json:"version"`
	Path    string `json:"path"`
}

// Autoscaling is one Deployment's HorizontalPodAutoscaler.
type Autoscaling struct {
	MinReplicas int `json:"minReplicas"`
	MaxReplicas int `json:"maxReplicas"`
	CPUPercent  int `json:"cpuPercent"`
	// ScaleDownSeconds is the scale-down stabilization window; nil keeps
	// Kubernetes' default (300s).
	ScaleDownSeconds *int `json:"scaleDownSeconds,omitempty"`
}

// The write-up's autoscaler: kubectl autoscale deploy management --min=2
// --max=10 --cpu-percent=20.
var writeUpAutoscaling = Autoscaling{MinReplicas: 2, MaxReplicas: 10, CPUPercent: 20}

// servingAutoscaling is every other service's: two pods so losing one node
// or one zone leaves one serving, room to triple, and a CPU target that
// scales before the 500m limit throttles.
var servingAutoscaling = Autoscaling{MinReplicas: 2, MaxReplicas: 6, CPUPercent: 70}

// defaultAutoscaling gives every service an autoscaler: the write-up's for
// management, servingAutoscaling for the others.
func defaultAutoscaling() map[contract.Service]Autoscaling {
	m := map[contract.Service]Autoscaling{}
	for _, s := range contract.Services() {
		m[s] = servingAutoscaling
	}
	m[contract.Management] = writeUpAutoscaling
	return m
}

// Zone spreading of the services' pods (carrental:zoneSpread).
const (
	// SpreadRequired refuses to put a second pod in a zone before every
	// zone has one (EKS: nodes carry topology.kubernetes.io/zone).
	SpreadRequired = "required"
	// SpreadPreferred only prefers it: a cluster whose nodes have no zone
	// label (a single local node) still schedules every pod.
	SpreadPreferred = "preferred"
)

// Config is the whole stack configuration.
type Config struct {
	Target Target

	// AWS
	Region            string // aws:region
	VpcCidr           string
	AZCount           int
	EKSVersion        string
	NodeInstanceType  string
	NodeMin           int
	NodeMax           int
	NodeDesired       int
	AdminPrincipalArn string
	PublicAccessCidrs []string
	ECRKeepImages     int
	DBInstanceClass   string
	DBStorageGB       int
	// DBMultiAZ keeps a synchronous standby in a second zone that RDS
	// fails over to (about a minute, same endpoint).
	DBMultiAZ bool
	// DBMaxStorageGB lets RDS grow the volume up to this size on its own
	// (0 turns storage autoscaling off).
	DBMaxStorageGB        int
	DBPerformanceInsights bool
	// DBMaxConnections is the PostgreSQL server's max_connections when
	// the stack cannot know it (a class it has no figure for, a local
	// databaseUrl other than PostgreSQL's default 100); 0: derive it.
	DBMaxConnections int
	DBPassword       pulumi.StringOutput // secret
	HasDBPassword    bool
	// DatabaseURL is a local stack's PostgreSQL (secret). Without it each
	// pod keeps SQLite in its own emptyDir: fine to try the platform, but
	// replicas of one service do not share data.
	DatabaseURL    pulumi.StringOutput
	HasDatabaseURL bool

	// Kubernetes (both targets)
	Kubeconfig      string // local: path or contents; empty = ambient
	Namespace       string
	ImageTag        string                      // empty: only carrental:images name images
	Images          map[contract.Service]string // pinned references, by digest from scripts/deploy
	ImagePullPolicy string
	MemoryRequest   string
	MemoryLimit     string
	Autoscaling     map[contract.Service]Autoscaling
	// ZoneSpread is SpreadRequired or SpreadPreferred.
	ZoneSpread    string
	RentalCountry string
	RentalRegion  string
	SkipAwait     bool

	// Add-ons
	MetricsServerChart Chart
	IstioCharts        Chart // base, istiod and gateway share repo and version; Path is the charts directory
	// MeshMode is MeshSidecars (istiod, an ingress gateway, a sidecar in
	// every app pod) or MeshPolicies (Istio's CRDs and our policies only,
	// for a cluster where Envoy cannot run: the services' own resilience
	// layer then does the work).
	MeshMode string
	// Resilience is contract.ResilienceServing (default) or
	// contract.ResilienceWriteUp: the write-up's demo pool on management,
	// in the mesh and in the services, to reproduce its siege.
	Resilience string
	// The gateway's per-client limit (RATE_LIMIT_RPS, RATE_LIMIT_BURST;
	// rate 0: off) and the proxies in front of it that append
	// X-Forwarded-For (TRUSTED_PROXY_HOPS): 1 with sidecars, where the
	// ingress gateway writes the client's address; 0 without (no ingress:
	// the client is the connection's peer).
	RateLimitRPS     int
	RateLimitBurst   int
	TrustedProxyHops int
	NATSChart        Chart
	NATSMode         string // statefulset, helm, external or none
	NATSURL          string
	// NATSReplicas is the number of JetStream servers of natsMode
	// statefulset (1, or 3 for a cluster that survives losing one).
	NATSReplicas int
	// StreamReplicas is how many servers keep the event stream (the
	// services' STREAM_REPLICAS): the servers of a JetStream cluster we run,
	// 1 with an external or no NATS unless set.
	StreamReplicas int
	// NATSStorage is each server's JetStream volume: a size ("10Gi", a
	// PersistentVolumeClaim) or "emptyDir" (a cluster with no storage
	// provisioner; the stream lives as long as the pod).
	NATSStorage string

	// Tracing: an OTLP collector the services send spans to (empty: none;
	// they still make and propagate trace IDs), its protocol, and the
	// share of traces sampled at the gateway.
	OTLPEndpoint     string
	OTLPProtocol     string
	TraceSampleRatio float64
	// Monitoring (a Prometheus Operator and Grafana already in the
	// cluster, e.g. kube-prometheus-stack): when enabled, the stack
	// declares the services' PodMonitor and PrometheusRule, the dashboard
	// ConfigMap, and lets MonitoringNamespace scrape the pods.
	MonitoringEnabled bool
	// MonitoringNamespace is where Prometheus and Grafana run: the
	// dashboard ConfigMap goes there (Grafana's sidecar watches it).
	MonitoringNamespace string
	// MonitoringRelease is the "release" label the operator's Prometheus
	// selects PodMonitors and PrometheusRules by (kube-prometheus-stack's
	// release name).
	MonitoringRelease string

	// Who may do what (docs/design-auth.md). AuthMode is contract.AuthJWT
	// (default) or contract.AuthOff (no identity checks: a benchmark's
	// baseline only). On AWS the Cognito user pool is the users' issuer
	// and these stay empty; a local stack names its issuer: AuthIssuer,
	// AuthAudience, and its keys, a JWKS URI or the key set inline
	// (AuthJWKS, public keys only: it goes into the pods' env).
	AuthMode       string
	AuthIssuer     string
	AuthAudience   string
	AuthJWKSURI    string
	AuthJWKS       string
	AuthRolesClaim string
	// AuthDeletionProtection keeps the Cognito user pool (and its users)
	// from being deleted by a destroy or a replacement (AWS).
	AuthDeletionProtection bool
	// The cluster's ServiceAccount issuer, which signs the services'
	// projected tokens, and where its keys are. On AWS both come from the
	// EKS cluster's OIDC issuer; a local stack defaults to the API
	// server's (--service-account-issuer of kubeadm, kind and the test
	// bed's node) and its /openid/v1/jwks.
	ServiceAuthIssuer  string
	ServiceAuthJWKSURI string
	// Where the pods reach the API server for that JWKS (local stacks;
	// the NetworkPolicies' egress): the kubernetes Service's endpoint,
	// which is what a policy sees after kube-proxy.
	APIServerCIDR string
	APIServerPort int
}

// Local defaults of the cluster's ServiceAccount issuer: the issuer
// kubeadm, kind and the test bed's node give the API server, and its key
// set served by the API server itself (pods may read it: the
// system:service-account-issuer-discovery ClusterRole, which the stack
// binds to the app's ServiceAccounts).
const (
	DefaultLocalServiceIssuer  = "https://kubernetes.default.svc.cluster.local"
	DefaultLocalServiceJWKSURI = "https://kubernetes.default.svc/openid/v1/jwks"
	DefaultAPIServerPort       = 6443
)

// Mesh modes.
const (
	MeshSidecars = "sidecars"
	MeshPolicies = "policies"
)

// Load reads the stack configuration, applying defaults and checking values.
func Load(ctx *pulumi.Context) (Config, error) {
	c := pconfig.New(ctx, "carrental")
	aws := pconfig.New(ctx, "aws")
	typed := &typedReader{c: c}
	cfg := Config{
		Target:                Target(or(c.Get("target"), string(AWS))),
		Region:                aws.Get("region"),
		VpcCidr:               or(c.Get("vpcCidr"), "10.0.0.0/16"),
		AZCount:               typed.int("azCount", 3),
		EKSVersion:            or(c.Get("eksVersion"), versions.Kubernetes),
		NodeInstanceType:      or(c.Get("nodeInstanceType"), "t3.large"),
		NodeMin:               typed.int("nodeMin", 2),
		NodeMax:               typed.int("nodeMax", 6),
		NodeDesired:           typed.int("nodeDesired", 3),
		AdminPrincipalArn:     c.Get("adminPrincipalArn"),
		PublicAccessCidrs:     []string{"0.0.0.0/0"},
		ECRKeepImages:         typed.int("ecrKeepImages", 10),
		DBInstanceClass:       or(c.Get("dbInstanceClass"), DefaultDBInstanceClass),
		DBStorageGB:           typed.int("dbStorageGb", 20),
		DBMaxStorageGB:        typed.int("dbMaxStorageGb", 100),
		DBMultiAZ:             typed.bool("dbMultiAz", true),
		DBPerformanceInsights: typed.bool("dbPerformanceInsights", false),
		DBMaxConnections:      typed.int("dbMaxConnections", 0),
		Kubeconfig:            c.Get("kubeconfig"),
		Namespace:             or(c.Get("namespace"), "carrental"),
		ImageTag:              c.Get("imageTag"),
		Images:                map[contract.Service]string{},
		ImagePullPolicy:       or(c.Get("imagePullPolicy"), "Always"),
		MemoryRequest:         or(c.Get("memoryRequest"), "64Mi"),
		MemoryLimit:           or(c.Get("memoryLimit"), "256Mi"),
		Autoscaling:           defaultAutoscaling(),
		RentalCountry:         or(c.Get("rentalCountry"), contract.DefaultCountry),
		RentalRegion:          or(c.Get("rentalRegion"), contract.DefaultRegion),
		SkipAwait:             typed.bool("skipAwait", false),
		MetricsServerChart:    Chart{Repo: "https://kubernetes-sigs.github.io/metrics-server/", Version: versions.MetricsServerChart},
		IstioCharts:           Chart{Repo: "https://istio-release.storage.googleapis.com/charts", Version: versions.Istio},
		NATSChart:             Chart{Repo: "https://nats-io.github.io/k8s/helm/charts/", Version: versions.NATSChart},
		MeshMode:              or(c.Get("meshMode"), MeshSidecars),
		Resilience:            or(c.Get("resilience"), contract.ResilienceServing),
		NATSMode:              or(c.Get("natsMode"), "statefulset"),
		NATSURL:               c.Get("natsUrl"),
		NATSStorage:           or(c.Get("natsStorage"), "10Gi"),
		OTLPEndpoint:          c.Get("otlpEndpoint"),
		OTLPProtocol:          or(c.Get("otlpProtocol"), contract.OTLPProtocolHTTP),
		TraceSampleRatio:      typed.float("traceSampleRatio", 1),
		MonitoringEnabled:     typed.bool("monitoringEnabled", false),
		MonitoringNamespace:   or(c.Get("monitoringNamespace"), "monitoring"),
		MonitoringRelease:     or(c.Get("monitoringRelease"), "kube-prometheus-stack"),
	}
	// AWS spreads over zones and survives losing one thing; a local cluster
	// is often one node with no zones and little CPU.
	natsReplicas, spread := 3, SpreadRequired
	if cfg.Target == Local {
		natsReplicas, spread = 1, SpreadPreferred
	}
	cfg.NATSReplicas = typed.int("natsReplicas", natsReplicas)
	cfg.ZoneSpread = or(c.Get("zoneSpread"), spread)
	streamReplicas := 1
	if cfg.NATSMode == "statefulset" || cfg.NATSMode == "helm" {
		streamReplicas = cfg.NATSReplicas
	}
	cfg.StreamReplicas = typed.int("streamReplicas", streamReplicas)
	cfg.RateLimitRPS = typed.int("rateLimitRps", contract.DefaultRateLimitRPS)
	cfg.RateLimitBurst = typed.int("rateLimitBurst", contract.DefaultRateLimitBurst)
	hops := 0
	if cfg.MeshMode == MeshSidecars {
		hops = 1
	}
	cfg.TrustedProxyHops = typed.int("trustedProxyHops", hops)
	cfg.AuthMode = or(c.Get("authMode"), contract.AuthJWT)
	cfg.AuthIssuer, cfg.AuthAudience = c.Get("authIssuer"), c.Get("authAudience")
	cfg.AuthJWKSURI, cfg.AuthJWKS, cfg.AuthRolesClaim = c.Get("authJwksUri"), c.Get("authJwks"), c.Get("authRolesClaim")
	cfg.ServiceAuthIssuer, cfg.ServiceAuthJWKSURI = c.Get("serviceAuthIssuer"), c.Get("serviceAuthJwksUri")
	cfg.APIServerCIDR = c.Get("apiServerCidr")
	cfg.APIServerPort = typed.int("apiServerPort", DefaultAPIServerPort)
	cfg.AuthDeletionProtection = typed.bool("authDeletionProtection", true)
	if cfg.Target == Local {
		cfg.AuthAudience = or(cfg.AuthAudience, contract.DefaultAudience)
		cfg.AuthRolesClaim = or(cfg.AuthRolesClaim, contract.DefaultRolesClaim)
		cfg.ServiceAuthIssuer = or(cfg.ServiceAuthIssuer, DefaultLocalServiceIssuer)
		cfg.ServiceAuthJWKSURI = or(cfg.ServiceAuthJWKSURI, DefaultLocalServiceJWKSURI)
		// Like carrental:databaseUrl: where the cluster runs its API
		// server is not known here.
		cfg.APIServerCIDR = or(cfg.APIServerCIDR, "0.0.0.0/0")
	}
	_ = c.TryObject("publicAccessCidrs", &cfg.PublicAccessCidrs) // absent: keep the default
	for key, chart := range map[string]*Chart{"metricsServerChart": &cfg.MetricsServerChart, "istioCharts": &cfg.IstioCharts, "natsChart": &cfg.NATSChart} {
		var override Chart
		if err := c.TryObject(key, &override); err == nil {
			chart.merge(override)
		}
	}
	var images map[string]string
	if err := c.TryObject("images", &images); err == nil {
		for k, v := range images {
			cfg.Images[contract.Service(k)] = v
		}
	}
	// Fields left out keep their defaults, so `pulumi config set --path
	// carrental:autoscaling.management.maxReplicas 12` changes only that.
	var hpa map[string]struct {
		MinReplicas, MaxReplicas, CPUPercent, ScaleDownSeconds *int
	}
	if err := c.TryObject("autoscaling", &hpa); err == nil {
		for k, v := range hpa {
			a := cfg.Autoscaling[contract.Service(k)]
			for _, f := range []struct {
				dst *int
				src *int
			}{{&a.MinReplicas, v.MinReplicas}, {&a.MaxReplicas, v.MaxReplicas}, {&a.CPUPercent, v.CPUPercent}} {
				if f.src != nil {
					*f.dst = *f.src
				}
			}
			if v.ScaleDownSeconds != nil {
				a.ScaleDownSeconds = v.ScaleDownSeconds
			}
			cfg.Autoscaling[contract.Service(k)] = a
		}
	}
	if pw, err := c.TrySecret("dbPassword"); err == nil {
		cfg.DBPassword, cfg.HasDBPassword = pw, true
	}
	if u, err := c.TrySecret("databaseUrl"); err == nil {
		cfg.DatabaseURL, cfg.HasDatabaseURL = u, true
	}
	if typed.err != nil {
		return cfg, typed.err
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	switch c.Target {
	case AWS:
		if c.Region == "" {
			return fmt.Errorf("aws:region is not set: pulumi config set aws:region ap-northeast-2")
		}
		if !c.HasDBPassword {
			return fmt.Errorf("carrental:dbPassword is not set: pulumi config set --secret carrental:dbPassword <password>")
		}
		if c.AZCount < 2 || c.AZCount > 3 {
			return fmt.Errorf("carrental:azCount %d: want 2 or 3", c.AZCount)
		}
		if c.NodeMin < 1 || c.NodeMin > c.NodeDesired || c.NodeDesired > c.NodeMax {
			return fmt.Errorf("node group sizes: want 1 <= nodeMin (%d) <= nodeDesired (%d) <= nodeMax (%d)", c.NodeMin, c.NodeDesired, c.NodeMax)
		}
		if c.DBMaxStorageGB != 0 && c.DBMaxStorageGB < c.DBStorageGB {
			return fmt.Errorf("carrental:dbMaxStorageGb %d: want 0 (no storage autoscaling) or at least dbStorageGb (%d)", c.DBMaxStorageGB, c.DBStorageGB)
		}
	case Local:
	default:
		return fmt.Errorf("carrental:target %q: want aws or local", c.Target)
	}
	switch c.MeshMode {
	case MeshSidecars, MeshPolicies:
	default:
		return fmt.Errorf("carrental:meshMode %q: want %s or %s", c.MeshMode, MeshSidecars, MeshPolicies)
	}
	if c.Resilience != contract.ResilienceServing && c.Resilience != contract.ResilienceWriteUp {
		return fmt.Errorf("carrental:resilience %q: want %s or %s", c.Resilience, contract.ResilienceServing, contract.ResilienceWriteUp)
	}
	if c.RateLimitRPS < 0 || c.RateLimitBurst < 1 || c.TrustedProxyHops < 0 {
		return fmt.Errorf("carrental:rateLimitRps %d, rateLimitBurst %d, trustedProxyHops %d: want a rate of 0 (off) or more, a burst of at least 1, and 0 or more proxies", c.RateLimitRPS, c.RateLimitBurst, c.TrustedProxyHops)
	}
	if c.OTLPProtocol != contract.OTLPProtocolHTTP && c.OTLPProtocol != contract.OTLPProtocolGRPC {
		return fmt.Errorf("carrental:otlpProtocol %q: want %s or %s", c.OTLPProtocol, contract.OTLPProtocolHTTP, contract.OTLPProtocolGRPC)
	}
	if c.OTLPEndpoint != "" && !strings.HasPrefix(c.OTLPEndpoint, "http://") && !strings.HasPrefix(c.OTLPEndpoint, "https://") {
		return fmt.Errorf("carrental:otlpEndpoint %q: want a URL like http://otel-collector.observability:4318", c.OTLPEndpoint)
	}
	if c.TraceSampleRatio < 0 || c.TraceSampleRatio > 1 {
		return fmt.Errorf("carrental:traceSampleRatio %v: want a ratio from 0 to 1", c.TraceSampleRatio)
	}
	if c.ZoneSpread != SpreadRequired && c.ZoneSpread != SpreadPreferred {
		return fmt.Errorf("carrental:zoneSpread %q: want %s or %s", c.ZoneSpread, SpreadRequired, SpreadPreferred)
	}
	switch c.NATSMode {
	case "statefulset", "helm":
		if c.NATSReplicas != 1 && c.NATSReplicas != 3 && c.NATSReplicas != 5 {
			return fmt.Errorf("carrental:natsReplicas %d: want 1, 3 or 5 (a JetStream cluster needs an odd number for its quorum)", c.NATSReplicas)
		}
		if c.StreamReplicas < 1 || c.StreamReplicas > c.NATSReplicas {
			return fmt.Errorf("carrental:streamReplicas %d: want 1 to natsReplicas (%d)", c.StreamReplicas, c.NATSReplicas)
		}
	}
	switch c.NATSMode {
	case "statefulset":
		if c.NATSStorage != "emptyDir" {
			if _, err := resource.ParseQuantity(c.NATSStorage); err != nil {
				return fmt.Errorf("carrental:natsStorage %q: want a size like 10Gi, or emptyDir", c.NATSStorage)
			}
		}
	case "helm", "none":
	case "external":
		if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
			return fmt.Errorf("carrental:streamReplicas %d: want 1 to 5, at most the servers of carrental:natsUrl", c.StreamReplicas)
		}
		if c.NATSURL == "" {
			return fmt.Errorf("carrental:natsMode external needs carrental:natsUrl")
		}
	default:
		return fmt.Errorf("carrental:natsMode %q: want statefulset, helm, external or none", c.NATSMode)
	}
	if err := c.validateImages(); err != nil {
		return err
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	names := make([]string, 0, len(c.Autoscaling))
	for s := range c.Autoscaling {
		names = append(names, string(s))
	}
	sort.Strings(names)
	for _, n := range names {
		a := c.Autoscaling[contract.Service(n)]
		if a.MinReplicas < 1 || a.MaxReplicas < a.MinReplicas || a.CPUPercent < 1 || a.CPUPercent > 100 {
			return fmt.Errorf("carrental:autoscaling %s %+v: want 1 <= min <= max and cpuPercent 1-100", n, a)
		}
		if w := a.ScaleDownSeconds; w != nil && (*w < 0 || *w > 3600) {
			return fmt.Errorf("carrental:autoscaling %s scaleDownSeconds %d: want 0-3600", n, *w)
		}
	}
	return nil
}

// validateAuth checks who issues the users' tokens. An AWS stack's
// issuer is its Cognito user pool, so naming another is a mistake; a
// local stack must name one (fail closed: a stack that forgot its issuer
// would deploy services that refuse everyone, or worse, be tempted to
// skip the checks), or turn identity off explicitly with authMode off.
func (c Config) validateAuth() error {
	switch c.AuthMode {
	case contract.AuthJWT:
	case contract.AuthOff:
		return nil
	default:
		return fmt.Errorf("carrental:authMode %q: want %s or %s (no identity checks: benchmarks only)", c.AuthMode, contract.AuthJWT, contract.AuthOff)
	}
	if c.Target == AWS {
		for key, v := range map[string]string{"authIssuer": c.AuthIssuer, "authAudience": c.AuthAudience, "authJwksUri": c.AuthJWKSURI,
			"authJwks": c.AuthJWKS, "authRolesClaim": c.AuthRolesClaim, "serviceAuthIssuer": c.ServiceAuthIssuer, "serviceAuthJwksUri": c.ServiceAuthJWKSURI} {
			if v != "" {
				return fmt.Errorf("carrental:%s is set on an AWS stack: there the Cognito user pool issues the users' tokens and the EKS cluster's OIDC issuer the services'; unset it", key)
			}
		}
		return nil
	}
	if c.AuthIssuer == "" {
		return fmt.Errorf("carrental:authIssuer is not set: a local stack needs the issuer of its users' tokens " +
			"(pulumi config set carrental:authIssuer https://issuer.example, and carrental:authJwksUri or carrental:authJwks), " +
			"or carrental:authMode off to deploy without identity checks (benchmarks only)")
	}
	if err := httpURL("authIssuer", c.AuthIssuer); err != nil {
		return err
	}
	switch {
	case c.AuthJWKSURI != "" && c.AuthJWKS != "":
		return fmt.Errorf("carrental:authJwksUri and carrental:authJwks are both set: give the issuer's keys one way")
	case c.AuthJWKSURI != "":
		if err := httpURL("authJwksUri", c.AuthJWKSURI); err != nil {
			return err
		}
	case c.AuthJWKS != "":
		if err := publicKeySet(c.AuthJWKS); err != nil {
			return fmt.Errorf("carrental:authJwks: %w", err)
		}
	default:
		return fmt.Errorf("carrental:authIssuer %s has no keys: set carrental:authJwksUri (its JWKS URI) or carrental:authJwks (the key set, JSON)", c.AuthIssuer)
	}
	if err := httpURL("serviceAuthIssuer", c.ServiceAuthIssuer); err != nil {
		return err
	}
	if err := httpURL("serviceAuthJwksUri", c.ServiceAuthJWKSURI); err != nil {
		return err
	}
	if _, _, err := net.ParseCIDR(c.APIServerCIDR); err != nil {
		return fmt.Errorf("carrental:apiServerCidr %q: want a CIDR like 172.18.0.2/32", c.APIServerCIDR)
	}
	if c.APIServerPort < 1 || c.APIServerPort > 65535 {
		return fmt.Errorf("carrental:apiServerPort %d: want a port", c.APIServerPort)
	}
	return nil
}

func httpURL(key, v string) error {
	if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("carrental:%s %q: want an http(s) URL", key, v)
	}
	return nil
}

// publicKeySet checks an inline JWKS: JSON with at least one key, each
// with its type, and no private part (it goes into every pod's env in
// plain text and into the mesh's RequestAuthentication).
func publicKeySet(raw string) error {
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(raw), &set); err != nil {
		return fmt.Errorf("want a JSON Web Key Set ({\"keys\":[...]}): %v", err)
	}
	if len(set.Keys) == 0 {
		return errors.New("the key set has no keys")
	}
	for i, k := range set.Keys {
		if kty, _ := k["kty"].(string); kty == "" {
			return fmt.Errorf("key %d has no kty", i)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				return fmt.Errorf("key %d has the private or symmetric member %q: give the public keys only", i, private)
			}
		}
	}
	return nil
}

// validateImages refuses references that would deploy something other than
// what was built: "latest" (or no tag at all) moves under a running
// Deployment, and ECR's tags are immutable, so a second push of it fails.
func (c Config) validateImages() error {
	if c.ImageTag == "latest" {
		return fmt.Errorf("carrental:imageTag latest: pin a version tag, or let scripts/deploy pin digests in carrental:images")
	}
	known := map[contract.Service]bool{}
	for _, s := range contract.Services() {
		known[s] = true
	}
	for s, img := range c.Images {
		if !known[s] {
			return fmt.Errorf("carrental:images.%s: no such service (want one of %v)", s, contract.Services())
		}
		if !pinned(img) {
			return fmt.Errorf("carrental:images.%s %q: pin a tag other than latest, or a digest (@sha256:...)", s, img)
		}
	}
	switch c.ImagePullPolicy {
	case "Always", "IfNotPresent", "Never":
	default:
		return fmt.Errorf("carrental:imagePullPolicy %q: want Always, IfNotPresent or Never", c.ImagePullPolicy)
	}
	return nil
}

// pinned reports whether an image reference names a digest or a tag other
// than latest. A colon before the last slash is a registry port, not a tag.
func pinned(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	name := ref[strings.LastIndex(ref, "/")+1:]
	i := strings.LastIndex(name, ":")
	return i > 0 && i < len(name)-1 && name[i+1:] != "latest"
}

func (ch *Chart) merge(o Chart) {
	if o.Repo != "" {
		ch.Repo = o.Repo
	}
	if o.Version != "" {
		ch.Version = o.Version
	}
	ch.Path = o.Path
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// typedReader reads numbers and booleans: an absent key is the default, a
// malformed one an error naming it (GetInt would read "three" as 0 and
// quietly fall back).
type typedReader struct {
	c   *pconfig.Config
	err error
}

func (r *typedReader) int(key string, def int) int {
	v, err := r.c.TryInt(key)
	return orDefault(r, key, "a whole number", err, v, def)
}

func (r *typedReader) float(key string, def float64) float64 {
	v, err := r.c.TryFloat64(key)
	return orDefault(r, key, "a number", err, v, def)
}

func (r *typedReader) bool(key string, def bool) bool {
	v, err := r.c.TryBool(key)
	return orDefault(r, key, "true or false", err, v, def)
}

func orDefault[T any](r *typedReader, key, want string, err error, v, def T) T {
	switch {
	case err == nil:
		return v
	case !errors.Is(err, pconfig.ErrMissingVar) && r.err == nil:
		r.err = fmt.Errorf("carrental:%s: want %s (%v)", key, want, err)
	}
	return def
}
