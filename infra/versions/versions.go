// Package versions states every version the platform pins, in one place:
// the Kubernetes the EKS cluster runs and the test bed proves, the mesh,
// the add-ons, the event bus and the database engine. versions_test.go
// compares them with the go.mod files the services, the typed policies and
// the test bed's binaries are built from, so they cannot drift apart.
package versions

const (
	// Kubernetes is the EKS control plane's minor version
	// (carrental:eksVersion's default) and the one the test bed's node is
	// built at (k8s.io/kubernetes in scripts/tools/kubernetes/go.mod). A
	// new cluster starts in standard support, not on an end-of-life
	// release billed at extended-support rates.
	Kubernetes = "1.34"

	// Istio is the release of the charts, istiod and the proxies, and of
	// istio.io/api, the module the typed DestinationRules and
	// VirtualServices are generated from.
	Istio = "1.31.4"

	// MetricsServer is the image the stack runs (and scripts/build-images
	// --addons builds for the local node); MetricsServerChart is the chart
	// that installs it on a cluster with a chart repository in reach.
	MetricsServer      = "v0.8.0"
	MetricsServerChart = "3.12.2"

	// NATS is the nats-server of our StatefulSet's image: the module the
	// services embed and are tested against (go.mod). NATSChart is the
	// chart of natsMode helm.
	NATS      = "2.15.2"
	NATSChart = "1.3.2"

	// PostgreSQL is the RDS engine's major version; the services' tests
	// run on the machine's PostgreSQL of any supported major.
	PostgreSQL = "16"
)
