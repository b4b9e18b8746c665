package host

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/clientlimit"
	"github.com/carrental/carrental/svc/platform/nats"
	"github.com/carrental/carrental/svc/platform/overload"
	"github.com/carrental/carrental/svc/platform/resilience"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/telemetry"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config is one service's runtime configuration, read from the environment
// (see the README's table). Every key has a default that runs locally.
type Config struct {
	Addr        string // ADDR, default ":8080"
	AdminAddr   string // ADMIN_ADDR, default "" (no admin listener)
	DataDir     string // DATA_DIR, default "./data"
	DatabaseURL string // DATABASE_URL, default "" (embedded SQLite)
	SchemaPref  string // DATABASE_SCHEMA_PREFIX, default ""
	// DatabaseMaxConns is DATABASE_MAX_CONNS, default 10: this pod's
	// PostgreSQL pool, its share of the server's connections.
	DatabaseMaxConns int
	SQLiteSync       string // SQLITE_SYNCHRONOUS, default normal
	NATSURL          string // NATS_URL, default "" (embedded nats-server)
	// StreamReplicas is STREAM_REPLICAS, default 1: the event stream's
	// replicas (3 on a JetStream cluster of three servers).
	StreamReplicas int
	HealthyFile    string           // HEALTHY_FILE, default /tmp/healthy
	LogLevel       slog.Level       // LOG_LEVEL, default info
	Drain          time.Duration    // SHUTDOWN_DRAIN, default 10s
	MaxInFlight    int              // MAX_IN_FLIGHT, default overload.DefaultSlots()
	Telemetry      telemetry.Config // OTEL_*: trace IDs only by default
	// Per-client limits (the gateway's): RATE_LIMIT_RPS (default 50; 0
	// turns the buckets off), RATE_LIMIT_BURST (default 100), and
	// TRUSTED_PROXY_HOPS (default 0: the client is the connection's peer).
	RateLimitRPS float64
	// GatewayCacheTTL is GATEWAY_CACHE_TTL, default 1s: the gateway's read
	// cache of the car list (0: off).
	GatewayCacheTTL  time.Duration
	RateLimitBurst   int
	TrustedProxyHops int
	upstreams        map[contract.Service]string
	policies         map[string]resilience.Policy // by upstream host:port
	peers            map[string]contract.Service  // upstream by host:port
	// the resilience profile and layer hosts outside the call graph get
	resilienceProfile, resilienceLayer string
	adminLn                            net.Listener // pre-opened admin listener (local runs, tests)
	onServing                          func()       // called once the service is about to serve
	// serviceTokens mints this service's own identity token in process
	// (the local run); nil: read it from SERVICE_TOKEN_FILE.
	serviceTokens func(context.Context) (string, error)
}

// WithServiceTokens makes the service's own calls carry tokens from fn
// instead of the projected token file.
func (c Config) WithServiceTokens(fn func(context.Context) (string, error)) Config {
	c.serviceTokens = fn
	return c
}

// WithAdminListener serves the admin API on ln instead of listening on
// AdminAddr.
func (c Config) WithAdminListener(ln net.Listener) Config {
	c.adminLn = ln
	c.AdminAddr = ln.Addr().String()
	return c
}

// WithSpanExporter sends every span to exp as it ends (tests: an
// in-memory exporter), whatever OTEL_TRACES_EXPORTER says.
func (c Config) WithSpanExporter(exp sdktrace.SpanExporter) Config {
	c.Telemetry.SpanExporter = exp
	return c
}

// WithOnServing calls fn once the service has started every part and is
// about to serve (the all-in-one run waits for all six).
func (c Config) WithOnServing(fn func()) Config {
	c.onServing = fn
	return c
}

// EnvShutdownDrain bounds how long a graceful shutdown waits for in-flight
// requests and the outbox.
const EnvShutdownDrain = contract.EnvShutdownDrain

// LoadConfig reads the configuration of service from getenv.
func LoadConfig(service contract.Service, getenv func(string) string) (Config, error) {
	get := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	cfg := Config{
		Addr:        get(contract.EnvAddr, fmt.Sprintf(":%d", contract.HTTPPort)),
		AdminAddr:   get(contract.EnvAdminAddr, ""),
		DataDir:     get(contract.EnvDataDir, "./data"),
		DatabaseURL: get(contract.EnvDatabaseURL, ""),
		SchemaPref:  get(contract.EnvSchemaPrefix, ""),
		SQLiteSync:  get(contract.EnvSQLiteSync, string(sqldb.SyncNormal)),
		NATSURL:     get(contract.EnvNATSURL, ""),
		HealthyFile: get(contract.EnvHealthyFile, contract.HealthyFile),
		upstreams:   map[contract.Service]string{},
		policies:    map[string]resilience.Policy{},
		peers:       map[string]contract.Service{},
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(get(contract.EnvLogLevel, "info"))); err != nil {
		return Config{}, fmt.Errorf("%s: %w", contract.EnvLogLevel, err)
	}
	drain, err := time.ParseDuration(get(EnvShutdownDrain, contract.DefaultShutdownDrain.String()))
	if err != nil || drain <= 0 {
		return Config{}, fmt.Errorf("%s=%q: want a positive duration like 10s", EnvShutdownDrain, getenv(EnvShutdownDrain))
	}
	cfg.Drain = drain
	conns, err := strconv.Atoi(get(contract.EnvDatabaseMaxConns, strconv.Itoa(contract.DefaultDatabaseMaxConns)))
	if err != nil || conns < contract.MinDatabaseMaxConns {
		return Config{}, fmt.Errorf("%s=%q: want a whole number of connections, at least %d", contract.EnvDatabaseMaxConns, getenv(contract.EnvDatabaseMaxConns), contract.MinDatabaseMaxConns)
	}
	cfg.DatabaseMaxConns = conns
	if s := sqldb.Sync(cfg.SQLiteSync); s != sqldb.SyncNormal && s != sqldb.SyncFull {
		return Config{}, fmt.Errorf("%s=%q: want %s or %s", contract.EnvSQLiteSync, cfg.SQLiteSync, sqldb.SyncNormal, sqldb.SyncFull)
	}
	if cfg.MaxInFlight, err = strconv.Atoi(get(contract.EnvMaxInFlight, strconv.Itoa(overload.DefaultSlots()))); err != nil || cfg.MaxInFlight < 1 {
		return Config{}, fmt.Errorf("%s=%q: want a whole number of requests, at least 1", contract.EnvMaxInFlight, getenv(contract.EnvMaxInFlight))
	}
	if cfg.RateLimitRPS, err = strconv.ParseFloat(get(contract.EnvRateLimitRPS, strconv.Itoa(clientlimit.DefaultRPS)), 64); err != nil || cfg.RateLimitRPS < 0 || math.IsInf(cfg.RateLimitRPS, 0) || math.IsNaN(cfg.RateLimitRPS) {
		return Config{}, fmt.Errorf("%s=%q: want requests per second per client, like 50 (0 turns the limit off)", contract.EnvRateLimitRPS, getenv(contract.EnvRateLimitRPS))
	}
	if cfg.RateLimitBurst, err = strconv.Atoi(get(contract.EnvRateLimitBurst, strconv.Itoa(clientlimit.DefaultBurst))); err != nil || cfg.RateLimitBurst < 1 {
		return Config{}, fmt.Errorf("%s=%q: want a whole number of requests, at least 1", contract.EnvRateLimitBurst, getenv(contract.EnvRateLimitBurst))
	}
	if cfg.GatewayCacheTTL, err = time.ParseDuration(get(contract.EnvGatewayCacheTTL, contract.DefaultGatewayCacheTTL.String())); err != nil || cfg.GatewayCacheTTL < 0 {
		return Config{}, fmt.Errorf("%s=%q: want a duration like 1s (0 turns the gateway's read cache off)", contract.EnvGatewayCacheTTL, getenv(contract.EnvGatewayCacheTTL))
	}
	if cfg.TrustedProxyHops, err = strconv.Atoi(get(contract.EnvTrustedProxyHops, "0")); err != nil || cfg.TrustedProxyHops < 0 {
		return Config{}, fmt.Errorf("%s=%q: want the number of proxies in front that append X-Forwarded-For (0: none)", contract.EnvTrustedProxyHops, getenv(contract.EnvTrustedProxyHops))
	}
	if cfg.StreamReplicas, err = strconv.Atoi(get(contract.EnvStreamReplicas, "1")); err != nil || cfg.StreamReplicas < 1 || cfg.StreamReplicas > nats.MaxReplicas {
		return Config{}, fmt.Errorf("%s=%q: want 1 to %d replicas (at most the JetStream servers there are)", contract.EnvStreamReplicas, getenv(contract.EnvStreamReplicas), nats.MaxReplicas)
	}
	if cfg.Telemetry, err = telemetry.FromEnv(service, getenv); err != nil {
		return Config{}, err
	}
	if cfg.resilienceProfile, cfg.resilienceLayer, err = resilience.ProfileAndLayer(getenv); err != nil {
		return Config{}, err
	}
	for _, up := range contract.Calls()[service] {
		raw := get(contract.EnvURL(up), fmt.Sprintf("http://127.0.0.1:%d", contract.LocalPort(up)))
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("%s=%q: want a base URL like http://%s:8080", contract.EnvURL(up), raw, up)
		}
		cfg.upstreams[up] = strings.TrimRight(raw, "/")
		policy, err := resilience.FromEnv(up, getenv)
		if err != nil {
			return Config{}, err
		}
		cfg.policies[u.Host] = policy
		cfg.peers[u.Host] = up
	}
	return cfg, nil
}

// Upstream is the base URL of a service this one calls. Only the edges of
// contract.Calls() have one; asking for another is a wiring bug.
func (c Config) Upstream(s contract.Service) string {
	u, ok := c.upstreams[s]
	if !ok {
		panic(fmt.Sprintf("host: no upstream %q: add the edge to contract.Calls", s))
	}
	return u
}

// Policy is the resilience policy for calls to host (an upstream's
// host:port); hosts outside the call graph get the mesh defaults.
func (c Config) Policy(host string) resilience.Policy {
	if p, ok := c.policies[host]; ok {
		return p
	}
	return resilience.Default("", c.resilienceProfile, c.resilienceLayer)
}

// upstreamAt names the upstream service at host (host:port), for the
// client spans; empty for a host outside the call graph.
func (c Config) upstreamAt(host string) string { return string(c.peers[host]) }
