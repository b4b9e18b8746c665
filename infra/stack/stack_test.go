package stack_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
)

var devConfig = map[string]string{
	"aws:region":             "ap-northeast-2",
	"carrental:dbPassword":   "s3cret",
	"carrental:azCount":      "3",
	"carrental:rentalRegion": "seoul",
	"carrental:imageTag":     "v1",
}

var localConfig = map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1"}

const (
	deployment = "kubernetes:apps/v1:Deployment"
	hpa        = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
	configMap  = "kubernetes:core/v1:ConfigMap"
	custom     = "kubernetes:networking.istio.io/v1:DestinationRule"
)

// The write-up's values, spelled here as literals on purpose: the code
// under test keeps them as named constants, and this is the check that
// nobody changed a number.
func TestWriteUpValuesOnEveryWorkload(t *testing.T) {
	for _, target := range []struct {
		name   string
		config map[string]string
	}{{"dev", devConfig}, {"local", localConfig}} {
		t.Run(target.name, func(t *testing.T) {
			r := run(t, target.name, target.config)
			for _, s := range contract.Services() {
				d := r.find(t, deployment, string(s))
				c := at(t, d.Inputs, "spec.template.spec.containers.0")
				live := at(t, c, "livenessProbe")
				eq(t, string(s)+" liveness command", at(t, live, "exec.command"), []any{"/ko-app/" + string(s), "probe"})
				eq(t, string(s)+" initialDelaySeconds", at(t, live, "initialDelaySeconds"), 3)
				eq(t, string(s)+" timeoutSeconds", at(t, live, "timeoutSeconds"), 2)
				eq(t, string(s)+" periodSeconds", at(t, live, "periodSeconds"), 5)
				eq(t, string(s)+" failureThreshold", at(t, live, "failureThreshold"), 5)
				eq(t, string(s)+" readiness", at(t, c, "readinessProbe.httpGet.path"), "/readyz")
				eq(t, string(s)+" cpu request", at(t, c, "resources.requests.cpu"), "200m")
				eq(t, string(s)+" cpu limit", at(t, c, "resources.limits.cpu"), "500m")
				eq(t, string(s)+" read-only root", at(t, c, "securityContext.readOnlyRootFilesystem"), true)
				eq(t, string(s)+" non-root", at(t, c, "securityContext.runAsNonRoot"), true)
				eq(t, string(s)+" drop", at(t, c, "securityContext.capabilities.drop"), []any{"ALL"})
				eq(t, string(s)+" seccomp", at(t, c, "securityContext.seccompProfile.type"), "RuntimeDefault")
				eq(t, string(s)+" port name", at(t, r.find(t, "kubernetes:core/v1:Service", string(s)).Inputs, "spec.ports.0.name"), "http")
				if _, ok := d.Inputs["metadata"].(map[string]any)["annotations"].(map[string]any)["pulumi.com/skipAwait"]; ok {
					t.Errorf("%s: skipAwait set without carrental:skipAwait", s)
				}
			}
		})
	}
}

func TestManagementAutoscalerIsTheWriteUps(t *testing.T) {
	r := run(t, "dev", devConfig)
	h := r.find(t, hpa, "management")
	eq(t, "minReplicas", at(t, h.Inputs, "spec.minReplicas"), 2)
	eq(t, "maxReplicas", at(t, h.Inputs, "spec.maxReplicas"), 10)
	eq(t, "cpu target", at(t, h.Inputs, "spec.metrics.0.resource.target.averageUtilization"), 20)
	eq(t, "scale target", at(t, h.Inputs, "spec.scaleTargetRef.name"), "management")
	for _, s := range contract.Services() {
		if s == contract.Management {
			continue
		}
		h := r.find(t, hpa, string(s))
		eq(t, string(s)+" minReplicas", at(t, h.Inputs, "spec.minReplicas"), 2)
		eq(t, string(s)+" maxReplicas", at(t, h.Inputs, "spec.maxReplicas"), 6)
		eq(t, string(s)+" cpu target", at(t, h.Inputs, "spec.metrics.0.resource.target.averageUtilization"), 70)
	}
	cfg := map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:autoscaling": `{"reservation":{"minReplicas":1,"maxReplicas":4,"cpuPercent":50}}`}
	r = run(t, "local", cfg)
	eq(t, "reservation max", at(t, r.find(t, hpa, "reservation").Inputs, "spec.maxReplicas"), 4)
	eq(t, "management kept", at(t, r.find(t, hpa, "management").Inputs, "spec.maxReplicas"), 10)
}

func TestRentalRegionConfigMap(t *testing.T) {
	r := run(t, "dev", devConfig)
	cm := r.find(t, configMap, "rental-region")
	eq(t, "country", at(t, cm.Inputs, "data.country"), "korea")
	eq(t, "region", at(t, cm.Inputs, "data.region"), "seoul")
	if _, typo := cm.Inputs["data"].(map[string]any)["contury"]; typo {
		t.Error("the write-up's typo contury is back")
	}
	rental := at(t, r.find(t, deployment, "rental").Inputs, "spec.template.spec")
	env := map[string]any{}
	for _, e := range at(t, rental, "containers.0.env").([]any) {
		env[e.(map[string]any)["name"].(string)] = e
	}
	eq(t, "COUNTRY from", at(t, env["COUNTRY"], "valueFrom.configMapKeyRef"), map[string]any{"name": "rental-region", "key": "country"})
	eq(t, "REGION from", at(t, env["REGION"], "valueFrom.configMapKeyRef"), map[string]any{"name": "rental-region", "key": "region"})
	found := false
	for _, m := range at(t, rental, "containers.0.volumeMounts").([]any) {
		if m.(map[string]any)["mountPath"] == "/config" {
			found = m.(map[string]any)["readOnly"] == true
		}
	}
	if !found {
		t.Error("no read-only /config mount on rental")
	}
	r = run(t, "local", map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:rentalRegion": "busan"})
	eq(t, "region from config", at(t, r.find(t, configMap, "rental-region").Inputs, "data.region"), "busan")
}

func TestIstioPolicies(t *testing.T) {
	// The write-up's demo pool, reproduced under its profile.
	r := run(t, "local", withConfig(localConfig, map[string]string{"carrental:resilience": "writeup"}))
	dr := r.find(t, custom, "DestinationRule-management")
	eq(t, "apiVersion", dr.Inputs["apiVersion"], "networking.istio.io/v1")
	tp := at(t, dr.Inputs, "spec.trafficPolicy")
	eq(t, "maxConnections", at(t, tp, "connectionPool.tcp.maxConnections"), 1)
	eq(t, "http1MaxPendingRequests", at(t, tp, "connectionPool.http.http1MaxPendingRequests"), 1)
	eq(t, "maxRequestsPerConnection", at(t, tp, "connectionPool.http.maxRequestsPerConnection"), 1)
	eq(t, "consecutive5xxErrors", at(t, tp, "outlierDetection.consecutive5xxErrors"), 5)
	eq(t, "interval", at(t, tp, "outlierDetection.interval"), "10s")
	eq(t, "baseEjectionTime", at(t, tp, "outlierDetection.baseEjectionTime"), "30s")
	eq(t, "maxEjectionPercent", at(t, tp, "outlierDetection.maxEjectionPercent"), 100)
	if _, deprecated := at(t, tp, "outlierDetection").(map[string]any)["consecutiveErrors"]; deprecated {
		t.Error("deprecated consecutiveErrors used")
	}

	vs := r.find(t, "kubernetes:networking.istio.io/v1:VirtualService", "VirtualService-reservation")
	retries := at(t, vs.Inputs, "spec.http.0.retries")
	eq(t, "attempts", at(t, retries, "attempts"), 3)
	eq(t, "perTryTimeout", at(t, retries, "perTryTimeout"), "2s")
	if on := at(t, retries, "retryOn").(string); !strings.Contains(on, "500") {
		t.Errorf("retryOn %q lacks 500: a 500 would not be retried (the write-up's failure)", on)
	}
	// The mesh is the one retry layer for every callee, not reservation only.
	for _, s := range contract.Services() {
		if len(contract.Callers(s)) > 0 {
			r.find(t, "kubernetes:networking.istio.io/v1:VirtualService", "VirtualService-"+string(s))
			r.find(t, custom, "DestinationRule-"+string(s))
		}
	}
	// The default serves: no demo pool anywhere.
	serving := run(t, "local", localConfig)
	if _, pool := at(t, serving.find(t, custom, "DestinationRule-management").Inputs, "spec.trafficPolicy").(map[string]any)["connectionPool"]; pool {
		t.Error("the default profile has the write-up's 1-connection pool")
	}

	pa := r.find(t, "kubernetes:security.istio.io/v1:PeerAuthentication", "PeerAuthentication-default")
	eq(t, "mtls", at(t, pa.Inputs, "spec.mtls.mode"), "STRICT")

	for _, s := range contract.Services() {
		ap := r.find(t, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "AuthorizationPolicy-"+string(s))
		got := map[string]bool{}
		for _, p := range at(t, ap.Inputs, "spec.rules.0.from.0.source.principals").([]any) {
			got[p.(string)] = true
		}
		want := map[string]bool{}
		for _, c := range contract.Callers(s) {
			want["cluster.local/ns/carrental/sa/"+string(c)] = true
		}
		if s == contract.Gateway {
			want["cluster.local/ns/istio-ingress/sa/istio-ingressgateway"] = true
		}
		eq(t, string(s)+" callers", got, want)
	}
	// reservation -> payment is allowed; view -> payment is not.
	payment := r.find(t, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "AuthorizationPolicy-payment")
	principals := at(t, payment.Inputs, "spec.rules.0.from.0.source.principals")
	if !strings.Contains(fmtAny(principals), "sa/reservation") || strings.Contains(fmtAny(principals), "sa/view") {
		t.Errorf("payment callers %v", principals)
	}
}

func TestNamespaceAndDependenciesOnIstio(t *testing.T) {
	r := run(t, "local", localConfig)
	ns := r.find(t, "kubernetes:core/v1:Namespace", "carrental")
	eq(t, "injection label", at(t, ns.Inputs, "metadata.labels.istio-injection"), "enabled")
	istiod := "urn:kubernetes:helm.sh/v4:Chart::istiod"
	dependsOnIstiod := func(d []string) bool {
		for _, u := range d {
			if strings.HasSuffix(u, "::istiod") || u == istiod {
				return true
			}
		}
		return false
	}
	if !dependsOnIstiod(ns.Dependencies) {
		t.Errorf("the app namespace does not wait for istiod: %v", ns.Dependencies)
	}
	for _, typ := range []string{deployment, custom, "kubernetes:security.istio.io/v1:AuthorizationPolicy", "kubernetes:networking.istio.io/v1:VirtualService"} {
		for _, d := range r.all(typ) {
			if !dependsOnIstiod(d.Dependencies) {
				t.Errorf("%s %s does not depend on istiod: %v", typ, d.Name, d.Dependencies)
			}
		}
	}
}

func TestRegionComesFromConfigAndLocalStackHasNoAWS(t *testing.T) {
	r := run(t, "dev", devConfig)
	awsCount := 0
	for _, d := range r.resources {
		if strings.HasPrefix(d.Type, "aws:") {
			awsCount++
		}
	}
	if awsCount == 0 {
		t.Fatal("the dev stack declared no AWS resource")
	}
	kube := r.find(t, "pulumi:providers:kubernetes", "eks")
	if !strings.Contains(plain(kube.Inputs["kubeconfig"]), `"--region",`) || !strings.Contains(plain(kube.Inputs["kubeconfig"]), "ap-northeast-2") {
		t.Errorf("kubeconfig does not pass the configured region: %s", kube.Inputs["kubeconfig"])
	}
	cfg := map[string]string{}
	for k, v := range devConfig {
		cfg[k] = v
	}
	cfg["aws:region"] = "eu-west-1"
	r = run(t, "dev", cfg)
	if !strings.Contains(plain(r.find(t, "pulumi:providers:kubernetes", "eks").Inputs["kubeconfig"]), "eu-west-1") {
		t.Error("aws:region is not what the stack uses")
	}

	r = run(t, "local", localConfig)
	for _, d := range r.resources {
		if strings.HasPrefix(d.Type, "aws:") || strings.HasPrefix(d.Type, "pulumi:providers:aws") {
			t.Errorf("the local stack declares %s %s", d.Type, d.Name)
		}
	}
}

func TestECRRepositories(t *testing.T) {
	r := run(t, "dev", devConfig)
	for _, s := range contract.Services() {
		repo := r.find(t, "aws:ecr/repository:Repository", string(s))
		eq(t, string(s)+" immutable", repo.Inputs["imageTagMutability"], "IMMUTABLE")
		eq(t, string(s)+" scan", at(t, repo.Inputs, "imageScanningConfiguration.scanOnPush"), true)
	}
	lt := r.find(t, "aws:ec2/launchTemplate:LaunchTemplate", "cluster-nodes")
	eq(t, "IMDSv2", at(t, lt.Inputs, "metadataOptions.httpTokens"), "required")
	cl := r.find(t, "aws:eks/cluster:Cluster", "cluster")
	eq(t, "auth mode", at(t, cl.Inputs, "accessConfig.authenticationMode"), "API")
	eq(t, "secrets encryption", at(t, cl.Inputs, "encryptionConfig.resources"), []any{"secrets"})
	eq(t, "version", cl.Inputs["version"], "1.34") // the test bed's Kubernetes (infra/versions)
	cni := r.find(t, "aws:eks/addon:Addon", "cluster-vpc-cni")
	eq(t, "network policy agent", cni.Inputs["configurationValues"], `{"enableNetworkPolicy":"true"}`)
	nodes := r.find(t, "aws:eks/nodeGroup:NodeGroup", "cluster")
	waits := false
	for _, u := range nodes.Dependencies {
		waits = waits || strings.HasSuffix(u, "aws:eks/addon:Addon::cluster-vpc-cni")
	}
	if !waits {
		t.Errorf("nodes start before the CNI enforces network policies: %v", nodes.Dependencies)
	}
}

func TestSkipAwaitOnlyWhenAsked(t *testing.T) {
	r := run(t, "local", map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:skipAwait": "true"})
	annotations := at(t, r.find(t, deployment, "gateway").Inputs, "metadata.annotations").(map[string]any)
	eq(t, "skipAwait annotation", annotations["pulumi.com/skipAwait"], "true")
}

func TestBadConfigIsRejected(t *testing.T) {
	for name, cfg := range map[string]map[string]string{
		"no region":                         {"carrental:dbPassword": "x"},
		"no password":                       {"aws:region": "ap-northeast-2"},
		"unknown target":                    {"carrental:target": "gcp"},
		"bad hpa":                           {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:autoscaling": `{"view":{"minReplicas":3,"maxReplicas":1,"cpuPercent":20}}`},
		"latest tag":                        {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "latest"},
		"latest image":                      {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:images": `{"gateway":"r/gateway:latest"}`},
		"untagged image":                    {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:images": `{"gateway":"registry:5000/gateway"}`},
		"unknown image":                     {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:images": `{"managment":"r/m:v1"}`},
		"some images":                       {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:images": `{"gateway":"r/gateway:v1"}`},
		"pull policy":                       {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:imagePullPolicy": "Sometimes"},
		"stream replicas over the servers":  {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:natsReplicas": "3", "carrental:streamReplicas": "5"},
		"even NATS servers":                 {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:natsReplicas": "2"},
		"zone spread":                       {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:zoneSpread": "sometimes"},
		"storage ceiling below storage":     {"aws:region": "ap-northeast-2", "carrental:dbPassword": "x", "carrental:dbMaxStorageGb": "10"},
		"a number that is not one":          {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:natsReplicas": "three"},
		"negative rate limit":               {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:rateLimitRps": "-1"},
		"no burst":                          {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:rateLimitBurst": "0"},
		"negative proxy hops":               {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:trustedProxyHops": "-1"},
		"a rate that is not a number":       {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:rateLimitRps": "fast"},
		"a boolean that is not one":         {"aws:region": "ap-northeast-2", "carrental:dbPassword": "x", "carrental:dbMultiAz": "maybe"},
		"OTLP over http/json":               {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:otlpProtocol": "http/json"},
		"OTLP endpoint that is no URL":      {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:otlpEndpoint": "collector:4318"},
		"sample ratio above 1":              {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:traceSampleRatio": "1.5"},
		"a database too small for the pods": {"aws:region": "ap-northeast-2", "carrental:dbPassword": "x", "carrental:dbInstanceClass": "db.t4g.micro"},
		"a database class of unknown size":  {"aws:region": "ap-northeast-2", "carrental:dbPassword": "x", "carrental:dbInstanceClass": "db.x2g.large"},
		"sample ratio that is no number":    {"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:traceSampleRatio": "half"},
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := jsonMarshal(cfg)
			t.Setenv("PULUMI_CONFIG", string(b))
			if err := runErr("dev"); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestAutoscalingOverrideKeepsOtherFields(t *testing.T) {
	r := run(t, "local", map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:autoscaling": `{"management":{"maxReplicas":12}}`})
	h := r.find(t, hpa, "management")
	eq(t, "maxReplicas", at(t, h.Inputs, "spec.maxReplicas"), 12)
	eq(t, "minReplicas kept", at(t, h.Inputs, "spec.minReplicas"), 2)
	eq(t, "cpu kept", at(t, h.Inputs, "spec.metrics.0.resource.target.averageUtilization"), 20)
}

func TestConfigMapsAreUpdatedInPlace(t *testing.T) {
	for name, cfg := range map[string]map[string]string{"eks": devConfig, "k8s": localConfig} {
		stackName := "dev"
		if name == "k8s" {
			stackName = "local"
		}
		r := run(t, stackName, cfg)
		eq(t, name+" enableConfigMapMutable", r.find(t, "pulumi:providers:kubernetes", name).Inputs["enableConfigMapMutable"], true)
	}
}

func TestImagesArePinnedOrTaggedAndAppWaitsForThem(t *testing.T) {
	image := func(r *recorder, s contract.Service) any {
		return at(t, r.find(t, deployment, string(s)).Inputs, "spec.template.spec.containers.0.image")
	}
	r := run(t, "dev", devConfig)
	eq(t, "ECR image", image(r, contract.View), "123.dkr.ecr.ap-northeast-2.amazonaws.com/carrental-dev/view:v1")

	pinned := "r.example/gateway@sha256:" + strings.Repeat("a", 64)
	r = run(t, "local", map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v2", "carrental:images": `{"gateway":"` + pinned + `"}`})
	eq(t, "pinned image", image(r, contract.Gateway), pinned)
	eq(t, "local repo", image(r, contract.Rental), "carrental.local/rental:v2")
	eq(t, "pull policy", at(t, r.find(t, deployment, "rental").Inputs, "spec.template.spec.containers.0.imagePullPolicy"), "Always")

	r = run(t, "local", map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v2", "carrental:imagePullPolicy": "IfNotPresent"})
	eq(t, "pull policy for loaded images", at(t, r.find(t, deployment, "rental").Inputs, "spec.template.spec.containers.0.imagePullPolicy"), "IfNotPresent")

	// The first `pulumi up` of scripts/deploy runs before any image exists:
	// the platform comes up, the services wait instead of hanging on pulls.
	r = run(t, "dev", map[string]string{"aws:region": "ap-northeast-2", "carrental:dbPassword": "x"})
	if n := len(r.all(deployment)); n != 0 {
		t.Errorf("%d Deployments declared with no image", n)
	}
	r.find(t, "kubernetes:core/v1:Namespace", "carrental")
	if len(r.all("aws:eks/cluster:Cluster")) != 1 {
		t.Error("no EKS cluster declared")
	}
}

func TestAutoscaledDeploymentsLeaveReplicasToTheHPA(t *testing.T) {
	r := run(t, "local", localConfig)
	for _, s := range contract.Services() {
		spec := at(t, r.find(t, deployment, string(s)).Inputs, "spec").(map[string]any)
		if _, hasReplicas := spec["replicas"]; hasReplicas {
			t.Errorf("%s sets replicas: every pulumi up would undo its HPA", s)
		}
	}
}

// On AWS every pod that keeps data gets its share of the RDS instance's
// connections, and all of them fit at the autoscalers' maxima.
func TestDatabasePoolsFitTheInstanceAtTheMaxima(t *testing.T) {
	r := run(t, "dev", devConfig)
	// A db.t4g.small: about 168 connections, 10 kept free, 39 pods.
	for _, s := range contract.Services() {
		got := envValue(t, r, s, contract.EnvDatabaseMaxConns)
		if !contract.HasDatabase(s) {
			if got != "" {
				t.Errorf("%s keeps no data but has a pool of %s", s, got)
			}
			continue
		}
		if got != "4" {
			t.Errorf("%s: %s=%q, want 4", s, contract.EnvDatabaseMaxConns, got)
		}
	}
}

// The AWS stack survives losing any one thing: a node, a zone, a NATS
// server, the database primary. Literals on purpose.
func TestNoSinglePointOfFailureOnAWS(t *testing.T) {
	r := run(t, "dev", devConfig)
	for _, s := range contract.Services() {
		if min := at(t, r.find(t, hpa, string(s)).Inputs, "spec.minReplicas").(float64); min < 2 {
			t.Errorf("%s runs %v pod(s) at least: one node's loss stops it", s, min)
		}
		eq(t, string(s)+" budget", at(t, r.find(t, "kubernetes:policy/v1:PodDisruptionBudget", string(s)).Inputs, "spec.maxUnavailable"), 1)
		pod := at(t, r.find(t, deployment, string(s)).Inputs, "spec.template.spec")
		for i, want := range []struct{ key, rule string }{
			{"topology.kubernetes.io/zone", "DoNotSchedule"}, {"kubernetes.io/hostname", "ScheduleAnyway"},
		} {
			c := at(t, pod, fmt.Sprintf("topologySpreadConstraints.%d", i))
			eq(t, string(s)+" spread key", at(t, c, "topologyKey"), want.key)
			eq(t, string(s)+" spread rule", at(t, c, "whenUnsatisfiable"), want.rule)
			eq(t, string(s)+" spread skew", at(t, c, "maxSkew"), 1)
			eq(t, string(s)+" spread selector", at(t, c, "labelSelector.matchLabels.app"), string(s))
		}
		env := map[string]any{}
		for _, e := range at(t, pod, "containers.0.env").([]any) {
			env[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"]
		}
		eq(t, string(s)+" STREAM_REPLICAS", env["STREAM_REPLICAS"], "3")
	}
	nats := r.find(t, "kubernetes:apps/v1:StatefulSet", "nats")
	eq(t, "NATS servers", at(t, nats.Inputs, "spec.replicas"), 3)
	eq(t, "NATS budget", at(t, r.find(t, "kubernetes:policy/v1:PodDisruptionBudget", "nats").Inputs, "spec.maxUnavailable"), 1)
	db := r.find(t, "aws:rds/instance:Instance", "database")
	eq(t, "Multi-AZ", db.Inputs["multiAz"], true)
	eq(t, "storage autoscaling", db.Inputs["maxAllocatedStorage"], 100)
	eq(t, "backups", db.Inputs["backupRetentionPeriod"], 7)
	eq(t, "Performance Insights off by default", db.Inputs["performanceInsightsEnabled"], false)

	// A single local node has no zones: spreading is a preference there,
	// and one NATS server keeps the stream.
	local := run(t, "local", localConfig)
	pod := at(t, local.find(t, deployment, "reservation").Inputs, "spec.template.spec")
	eq(t, "local zone rule", at(t, pod, "topologySpreadConstraints.0.whenUnsatisfiable"), "ScheduleAnyway")
	eq(t, "local NATS servers", at(t, local.find(t, "kubernetes:apps/v1:StatefulSet", "nats").Inputs, "spec.replicas"), 1)

	// Each setting can be turned, and the stream follows the servers.
	turned := run(t, "dev", withConfig(devConfig, map[string]string{
		"carrental:dbMultiAz": "false", "carrental:dbMaxStorageGb": "0", "carrental:dbPerformanceInsights": "true",
		"carrental:natsReplicas": "5", "carrental:zoneSpread": "preferred",
	}))
	db = turned.find(t, "aws:rds/instance:Instance", "database")
	eq(t, "Multi-AZ off", db.Inputs["multiAz"], false)
	eq(t, "storage autoscaling off", db.Inputs["maxAllocatedStorage"], 0)
	eq(t, "Performance Insights on", db.Inputs["performanceInsightsEnabled"], true)
	eq(t, "five NATS servers", at(t, turned.find(t, "kubernetes:apps/v1:StatefulSet", "nats").Inputs, "spec.replicas"), 5)
	eq(t, "preferred zone rule", at(t, turned.find(t, deployment, "view").Inputs, "spec.template.spec.topologySpreadConstraints.0.whenUnsatisfiable"), "ScheduleAnyway")
}

func TestLocalDiskIsBounded(t *testing.T) {
	r := run(t, "local", localConfig)
	for _, s := range contract.Services() {
		pod := at(t, r.find(t, deployment, string(s)).Inputs, "spec.template.spec")
		eq(t, string(s)+" ephemeral request", at(t, pod, "containers.0.resources.requests.ephemeral-storage"), "64Mi")
		eq(t, string(s)+" ephemeral limit", at(t, pod, "containers.0.resources.limits.ephemeral-storage"), "256Mi")
		for _, v := range at(t, pod, "volumes").([]any) {
			vol := v.(map[string]any)
			if _, ok := vol["emptyDir"]; ok && at(t, vol, "emptyDir.sizeLimit") == nil {
				t.Errorf("%s: emptyDir %v unbounded", s, vol["name"])
			}
		}
	}
}

func TestNetworkPoliciesFollowTheCallGraph(t *testing.T) {
	const netpol = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
	allowed := func(r *recorder, s contract.Service) []string {
		var from []string
		spec := at(t, r.find(t, netpol, string(s)).Inputs, "spec")
		eq(t, string(s)+" selects", at(t, spec, "podSelector.matchLabels.app"), string(s))
		eq(t, string(s)+" types", at(t, spec, "policyTypes"), []any{"Ingress", "Egress"})
		ingress, _ := spec.(map[string]any)["ingress"].([]any)
		for _, rule := range ingress {
			eq(t, string(s)+" port", at(t, rule, "ports.0.port"), 8080)
			for _, peer := range at(t, rule, "from").([]any) {
				if app, ok := peer.(map[string]any)["podSelector"]; ok {
					from = append(from, fmtAny(at(t, app, "matchLabels.app")))
				} else {
					labels := at(t, peer, "namespaceSelector.matchLabels").(map[string]any)
					from = append(from, "ns:"+fmtAny(labels["kubernetes.io/metadata.name"]))
				}
			}
		}
		sort.Strings(from)
		return from
	}
	r := run(t, "dev", devConfig)
	eq(t, "gateway from", allowed(r, contract.Gateway), []string{"ns:istio-ingress"})
	eq(t, "management from", allowed(r, contract.Management), []string{"gateway", "reservation"})
	eq(t, "payment from", allowed(r, contract.Payment), []string{"gateway", "reservation"})
	eq(t, "reservation from", allowed(r, contract.Reservation), []string{"gateway", "rental"})
	eq(t, "view from", allowed(r, contract.View), []string{"gateway"})

	egress := func(r *recorder) string {
		return fmtAny(at(t, r.find(t, netpol, "reservation").Inputs, "spec.egress"))
	}
	if e := egress(r); !strings.Contains(e, "10.0.0.0/16") || !strings.Contains(e, "5432") {
		t.Errorf("dev egress %s: want the database in the VPC", e)
	}
	// Locally the one thing outside the pods is the API server, for the
	// ServiceAccount issuer's keys; nothing at all without identity.
	local := withConfig(localConfig, map[string]string{"carrental:apiServerCidr": "172.18.0.2/32", "carrental:apiServerPort": "8443"})
	if e := egress(run(t, "local", local)); strings.Count(e, "cidr") != 1 || !strings.Contains(e, "172.18.0.2/32") || !strings.Contains(e, "8443") {
		t.Errorf("local egress %s: want only the API server", e)
	}
	if e := egress(run(t, "local", map[string]string{"carrental:target": "local", "carrental:imageTag": "v1", "carrental:authMode": "off"})); strings.Contains(e, "cidr") {
		t.Errorf("local egress without identity %s: nothing outside the cluster to reach", e)
	}
	if e := egress(r); !strings.Contains(e, "0.0.0.0/0") || !strings.Contains(e, "443") {
		t.Errorf("dev egress %s: want HTTPS out, to Cognito's and EKS's keys", e)
	}
	cfg := map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:natsMode": "external", "carrental:natsUrl": "nats://nats.example:4333"}
	if e := egress(run(t, "local", cfg)); !strings.Contains(e, "4333") {
		t.Errorf("external NATS egress %s: want its port", e)
	}
}

func TestLocalStackSharesAPostgreSQLWhenGivenOne(t *testing.T) {
	cfg := map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1", "carrental:databaseUrl": "postgres://u:p@pg.example:5432/rental"}
	r := run(t, "local", cfg)
	secret := r.find(t, "kubernetes:core/v1:Secret", "database")
	if !strings.Contains(plain(secret.Inputs["stringData"]), "pg.example") {
		t.Errorf("database secret %v", secret.Inputs["stringData"])
	}
	for _, s := range contract.Services() {
		env := fmtAny(at(t, r.find(t, deployment, string(s)).Inputs, "spec.template.spec.containers.0.env"))
		if !contract.HasDatabase(s) {
			if strings.Contains(env, "DATABASE_") {
				t.Errorf("%s keeps no data but is given the database: %s", s, env)
			}
			continue
		}
		if !strings.Contains(env, "DATABASE_URL") || !strings.Contains(env, "carrental-database") {
			t.Errorf("%s does not read DATABASE_URL from the secret: %s", s, env)
		}
		// PostgreSQL's 100 connections less 10 kept free, among 39 pods.
		if got := envValue(t, r, s, contract.EnvDatabaseMaxConns); got != "2" {
			t.Errorf("%s: %s=%q, want 2", s, contract.EnvDatabaseMaxConns, got)
		}
	}
	egress := fmtAny(at(t, r.find(t, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "payment").Inputs, "spec.egress"))
	if !strings.Contains(egress, "5432") {
		t.Errorf("payment cannot reach the database: %s", egress)
	}
	if n := len(run(t, "local", localConfig).all("kubernetes:core/v1:Secret")); n != 0 {
		t.Errorf("%d Secrets without a database", n)
	}
}

// A stack that names a collector sets the OTEL_* keys on every
// Deployment; one that names none sets none (the services then make and
// propagate trace IDs and export nothing).
func TestTracingPointsEveryServiceAtTheCollector(t *testing.T) {
	keys := []string{contract.EnvOTLPEndpoint, contract.EnvOTLPProtocol, contract.EnvTracesSampler, contract.EnvTracesSamplerArg}
	cfg := map[string]string{"carrental:target": "local", "carrental:authIssuer": testIssuer, "carrental:authJwksUri": testJWKSURI, "carrental:imageTag": "v1",
		"carrental:otlpEndpoint": "http://otel-collector.observability:4317", "carrental:otlpProtocol": "grpc", "carrental:traceSampleRatio": "0.25"}
	want := map[string]string{contract.EnvOTLPEndpoint: "http://otel-collector.observability:4317", contract.EnvOTLPProtocol: contract.OTLPProtocolGRPC,
		contract.EnvTracesSampler: contract.SamplerParentBasedRatio, contract.EnvTracesSamplerArg: "0.25"}
	with, without := run(t, "local", cfg), run(t, "local", localConfig)
	for _, s := range contract.Services() {
		got := containerEnv(t, with.find(t, deployment, string(s)).Inputs)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", s, k, got[k], v)
			}
		}
		none := containerEnv(t, without.find(t, deployment, string(s)).Inputs)
		for _, k := range keys {
			if v, ok := none[k]; ok {
				t.Errorf("%s without a collector: %s = %q", s, k, v)
			}
		}
	}
}

// containerEnv is the plain name=value env of a Deployment's container.
func containerEnv(t *testing.T, inputs map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	list, _ := at(t, inputs, "spec.template.spec.containers.0.env").([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if name, ok := m["name"].(string); ok {
			v, _ := m["value"].(string)
			out[name] = v
		}
	}
	return out
}
