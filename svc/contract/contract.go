// Package contract is the one place where the services (svc/) and the
// deployment (infra/) meet: service names, ports, paths, environment keys and
// the call graph. Neither side may spell any of these values on its own; a
// change here changes both sides together, and the tests on each side read
// the values from here.
package contract

import (
	"sort"
	"strconv"
	"time"
)

// Service is the name of a microservice. It is its Kubernetes Service and
// Deployment name, its image name, its binary name and its DNS name inside
// the mesh (http://<name>:8080).
type Service string

// The six services of the operations write-up.
const (
	Gateway     Service = "gateway"
	Management  Service = "management"
	Reservation Service = "reservation"
	Payment     Service = "payment"
	Rental      Service = "rental"
	View        Service = "view"
)

// Services lists every service in a stable order (gateway first, as the entry
// point, then the bounded contexts).
func Services() []Service {
	return []Service{Gateway, Management, Reservation, Payment, Rental, View}
}

// HasDatabase says whether s keeps data of its own (a SQLite file, or a
// PostgreSQL schema and a share of the server's connections). The gateway
// keeps none: the internet-facing service never holds the database's
// credentials.
func HasDatabase(s Service) bool { return s != Gateway }

// DefaultDatabaseMaxConns is a pod's PostgreSQL pool when nothing sizes
// it: enough for the bench's 20 concurrent bookings on one pod.
const DefaultDatabaseMaxConns = 10

// MinDatabaseMaxConns is the smallest pool a pod works with: a
// transaction and the outbox relay's read beside it.
const MinDatabaseMaxConns = 2

// HTTPPort is the port every service listens on inside its pod; the write-up
// calls http://gateway:8080 and http://view:8080.
const HTTPPort = 8080

// HTTPPortName names the Service port so Istio detects the protocol.
const HTTPPortName = "http"

// AdminPort is the per-service admin listener (fault injection). The gateway
// never routes to it and no Kubernetes Service exposes it.
const AdminPort = 9091

// LocalPort is the port a service listens on when all six run in one process
// on one machine (go run ./svc/cmd/carrental): the gateway keeps 8080, the
// others take the next ports.
func LocalPort(s Service) int {
	switch s {
	case Gateway:
		return 8080
	case Management:
		return 8081
	case Reservation:
		return 8082
	case Payment:
		return 8083
	case Rental:
		return 8084
	case View:
		return 8085
	}
	return 0
}

// LocalAdminPort is a service's admin listener in the one-process local
// run: 9090 for the gateway, 9091-9095 for the others.
func LocalAdminPort(s Service) int {
	if p := LocalPort(s); p != 0 {
		return p + 1010
	}
	return 0
}

// HTTP paths every service serves besides its domain routes.
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
)

// Liveness the write-up's way: the service creates HealthyFile once it is
// ready, and "<binary> probe" exits non-zero when the file is missing. The
// exec probe therefore needs no shell and no cat in the image.
const (
	HealthyFile     = "/tmp/healthy"
	ProbeSubcommand = "probe"
)

// Domain routes (the write-up's paths) and the service that owns each. The
// gateway routes by these prefixes.
const (
	PathCarManagements  = "/carManagements"
	PathCarReservations = "/carReservations"
	PathPayments        = "/payments"
	PathCarRentals      = "/carRentals"
	PathCarInformations = "/carInformations"
)

// Routes maps each public path prefix to the service that owns it.
func Routes() map[string]Service {
	return map[string]Service{
		PathCarManagements:  Management,
		PathCarReservations: Reservation,
		PathPayments:        Payment,
		PathCarRentals:      Rental,
		PathCarInformations: View,
	}
}

// PathRentalConfig is rental's view of the rental-region values it uses
// now, and where each came from (file or env): how the ConfigMap
// experiment sees a change arrive without a restart.
const PathRentalConfig = "/config"

// Environment keys read by the services and set by the deployment.
const (
	EnvAddr        = "ADDR"         // listen address, e.g. ":8080"
	EnvAdminAddr   = "ADMIN_ADDR"   // admin listener address, empty disables it
	EnvDataDir     = "DATA_DIR"     // embedded SQLite and JetStream files
	EnvDatabaseURL = "DATABASE_URL" // PostgreSQL DSN; empty means embedded SQLite
	// EnvDatabaseMaxConns is each pod's share of the PostgreSQL server's
	// connections: its pool opens at most this many (default
	// DefaultDatabaseMaxConns, at least MinDatabaseMaxConns). The stack
	// sizes it so every pod at the autoscalers' maxima fits the server.
	EnvDatabaseMaxConns = "DATABASE_MAX_CONNS"
	// EnvSchemaPrefix prefixes the PostgreSQL schema each service keeps its
	// tables in (default: the schema is the service name).
	EnvSchemaPrefix = "DATABASE_SCHEMA_PREFIX"
	EnvNATSURL      = "NATS_URL" // external NATS; empty means embedded server
	// EnvStreamReplicas is the event stream's JetStream replicas: 1 on one
	// server, 3 on a cluster of three (the AWS stack).
	EnvStreamReplicas = "STREAM_REPLICAS"
	EnvHealthyFile    = "HEALTHY_FILE" // liveness file, default HealthyFile
	EnvLogLevel       = "LOG_LEVEL"    // debug, info, warn, error
	EnvCountry        = "COUNTRY"      // rental: from ConfigMap rental-region
	EnvRegion         = "REGION"       // rental: from ConfigMap rental-region
	EnvConfigDir      = "CONFIG_DIR"   // rental: where the ConfigMap is mounted
	// EnvShutdownDrain bounds how long a graceful shutdown waits for
	// in-flight requests and the outbox (a Go duration, default
	// DefaultShutdownDrain). The deployment's termination grace period
	// must outlast it.
	EnvShutdownDrain = "SHUTDOWN_DRAIN"
	// EnvMaxInFlight bounds the requests a service serves at once; the
	// excess waits briefly, then is shed with 503 and Retry-After (default:
	// 128 per CPU the process may use).
	EnvMaxInFlight = "MAX_IN_FLIGHT"
	// EnvSQLiteSync is normal (default: a process crash loses nothing
	// acknowledged, a power loss may lose the last commits) or full (an
	// fsync per commit: not even a power loss does).
	EnvSQLiteSync = "SQLITE_SYNCHRONOUS"
)

// DefaultShutdownDrain is SHUTDOWN_DRAIN's default.
const DefaultShutdownDrain = 10 * time.Second

// PodAdminAddr is where a service's admin listener (fault injection, the
// liveness experiment) listens in its pod: loopback, so no network path
// reaches it; `kubectl exec <pod> -- <binary> http ...` does.
func PodAdminAddr() string { return "127.0.0.1:" + strconv.Itoa(AdminPort) }

// EnvURL is the environment key holding the base URL of an upstream service,
// e.g. PAYMENT_URL=http://payment:8080.
func EnvURL(s Service) string {
	b := []byte(string(s))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b) + "_URL"
}

// InClusterURL is the base URL of a service inside the cluster.
func InClusterURL(s Service) string {
	return "http://" + string(s) + ":8080"
}

// The write-up's ConfigMap for rental, mounted read-only at ConfigDir and
// exposed as COUNTRY and REGION. The write-up's key "contury" is a typo we do
// not keep.
const (
	RentalConfigMapName = "rental-region"
	ConfigKeyCountry    = "country"
	ConfigKeyRegion     = "region"
	ConfigDir           = "/config"
	DefaultCountry      = "korea"
	DefaultRegion       = "seoul"
)

// Calls is the synchronous call graph: caller -> callees. The mesh's
// AuthorizationPolicies allow exactly these calls (plus ingress -> gateway),
// and the services read their upstream URLs for exactly these edges.
func Calls() map[Service][]Service {
	return map[Service][]Service{
		Gateway:     {Management, Reservation, Payment, Rental, View},
		Reservation: {Management, Payment},
		Rental:      {Reservation},
	}
}

// Callers returns the services allowed to call s, sorted.
func Callers(s Service) []Service {
	var out []Service
	for caller, callees := range Calls() {
		for _, c := range callees {
			if c == s {
				out = append(out, caller)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
