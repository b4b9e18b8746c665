package contract

import "time"

// How calls between services are protected, in the app (package
// resilience) and in the mesh (infra/mesh) alike. The numbers are the
// write-up's DestinationRule and VirtualService; the profiles say which of
// them serve real traffic.

// The write-up's outlier detection on management: eject after 5
// consecutive 5xx, checked every 10s, for 30s, up to every host.
const (
	Consecutive5xxErrors = 5
	OutlierInterval      = 10 * time.Second
	BaseEjectionTime     = 30 * time.Second
	MaxEjectionPercent   = 100
)

// The write-up's retries on reservation: 3 attempts, 2s each.
const (
	RetryAttempts = 3
	PerTryTimeout = 2 * time.Second
)

// The write-up's connection pool on management: one connection, one
// pending request, one request per connection. A demo: it exists to make
// a 20-user siege answer 503, and the write-up deleted it before its
// autoscaling run. It applies only under ResilienceWriteUp.
const (
	WriteUpMaxConnections           = 1
	WriteUpHTTP1MaxPendingRequests  = 1
	WriteUpMaxRequestsPerConnection = 1
)

// Resilience profiles (RESILIENCE_PROFILE in the services, the stack's
// carrental:resilience).
const (
	// ResilienceServing is the default: no fixed pool in front of any
	// service; each service sheds what exceeds its own capacity (503 with
	// Retry-After), which callers neither count as a failure nor retry.
	ResilienceServing = "serving"
	// ResilienceWriteUp adds the write-up's demo pool on calls to
	// management, to reproduce its circuit-breaker siege.
	ResilienceWriteUp = "writeup"
)

// Where the retries, pools and ejection live (RESILIENCE_LAYER). With a
// mesh that retries and pools (sidecars), the services keep only their
// timeouts, so attempts never multiply.
const (
	ResilienceInApp = "app"
	ResilienceMesh  = "mesh"
)

// Environment keys of the resilience settings.
const (
	EnvResilienceProfile = "RESILIENCE_PROFILE"
	EnvResilienceLayer   = "RESILIENCE_LAYER"
)
