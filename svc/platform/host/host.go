// Package host is the runtime every service binary shares: configuration from
// the environment, the database and its migrations, JetStream with the
// outbox relay and the consumers, /healthz /readyz /metrics, the liveness
// file, and graceful shutdown. A service plugs in through a Spec.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/endpointmw"
	"github.com/carrental/carrental/svc/platform/fault"
	"github.com/carrental/carrental/svc/platform/health"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/nats"
	"github.com/carrental/carrental/svc/platform/openapi"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/overload"
	"github.com/carrental/carrental/svc/platform/resilience"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/telemetry"
)

// Spec is how a service plugs into the runtime.
type Spec struct {
	Service    contract.Service
	Migrations fs.FS // the service's migrations; nil when it keeps no data
	Events     bool  // whether it publishes or consumes events
	// API is what the service's handler routes, served as an OpenAPI
	// document at /openapi.json (the gateway's: the public API).
	API   []openapi.Op
	Build func(ctx context.Context, d *Deps) (*Built, error)
}

// Deps are what the runtime hands a service to build itself from.
type Deps struct {
	Service  contract.Service
	Config   Config
	Getenv   func(string) string
	Log      *slog.Logger
	DB       *sqldb.DB     // nil without Migrations
	Relay    *outbox.Relay // nil without DB and Events; Notify it after a commit that added events
	Metrics  *endpointmw.Metrics
	Registry *prometheus.Registry
	HTTP     *http.Client // for calls to upstream services, with the resilience policy applied
	// Auth is who a request is; the host already runs its Middleware in
	// front of Built.Handler. HTTP forwards the identity a call is made
	// for (auth.AsService: the service's own).
	Auth *auth.Authenticator
	Now  func() time.Time
}

// Built is what a service hands back: its routes, its consumers and any
// background work that must stop with it.
type Built struct {
	Handler    http.Handler
	Consumers  []nats.Consumer
	Background []func(ctx context.Context)
	Ready      map[string]health.Check
	// OwnAdmission says Handler limits its own concurrency (the gateway's
	// fair per-client admission, package clientlimit), so the host's
	// first-come overload limiter stays out of its way: in front, it
	// would queue one flooding client's requests before everyone else's.
	OwnAdmission bool
}

// Main runs a service binary: a subcommand (probe, http: see cli.go), or
// else the service until SIGINT or SIGTERM.
func Main(spec Spec) {
	if code, ok := runSubcommand(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, spec, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Service, err)
		os.Exit(1)
	}
}

// Run runs one service until ctx is done, then shuts it down gracefully:
// the listener stops, in-flight requests drain, consumers stop, the outbox
// is flushed, connections close. Logs go to stdout as JSON.
func Run(ctx context.Context, spec Spec, getenv func(string) string, stdout io.Writer) error {
	cfg, err := LoadConfig(spec.Service, getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, &slog.HandlerOptions{Level: cfg.LogLevel})).With("service", string(spec.Service))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	return RunOn(ctx, spec, cfg, ln, getenv, log)
}

// RunOn is Run with the configuration, listener and logger already made
// (tests and the all-in-one binary pick their own ports). It starts the
// service in steps, each undone in reverse order when the service stops
// or a later step fails.
func RunOn(ctx context.Context, spec Spec, cfg Config, ln net.Listener, getenv func(string) string, log *slog.Logger) (err error) {
	tel, err := telemetry.New(ctx, cfg.Telemetry)
	if err != nil {
		ln.Close()
		return err
	}
	log = telemetry.Logger(log)
	p := newProcess(ctx, spec, cfg, getenv, log, tel)
	defer p.stop()
	defer func() {
		if err == nil {
			return
		}
		ln.Close()
		// A shutdown that arrives while the service is still starting
		// (connecting to NATS, migrating) is a clean stop, not a failure.
		if ctx.Err() != nil {
			log.Info("stopped while starting", "reason", err)
			err = nil
		}
	}()
	for _, step := range []func(context.Context) error{p.setupAuth, p.openDatabase, p.connectEvents, p.startRelay, p.build, p.startAdmin} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return p.serve(ctx, ln)
}

// process is one service while it runs: what it has started so far, and
// how to stop each piece.
type process struct {
	spec       Spec
	cfg        Config
	log        *slog.Logger
	deps       *Deps
	registry   *prometheus.Registry
	ready      health.Readiness
	js         jetstream.JetStream
	built      *Built
	faults     fault.Injector
	limiter    *overload.Limiter
	authn      *auth.Authenticator
	tel        *telemetry.Provider
	undo       []func() // run in reverse by stop
	background sync.WaitGroup
	bgCtx      context.Context // outlives ctx until stop, so work drains after shutdown starts
}

func newProcess(ctx context.Context, spec Spec, cfg Config, getenv func(string) string, log *slog.Logger, tel *telemetry.Provider) *process {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p := &process{spec: spec, cfg: cfg, log: log, registry: reg, limiter: overload.New(cfg.MaxInFlight, overload.DefaultWait), tel: tel}
	// Last to stop: the relay's final flush and the consumers make spans too.
	p.onStop(func() {
		if err := tel.Shutdown(cfg.Drain); err != nil {
			log.Warn("spans not exported", "err", err)
		}
	})
	p.ready.Log = log
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: contract.Metric(spec.Service, contract.MetricShed),
		Help: "Requests shed with 503 and Retry-After because the service was at capacity.",
	}, func() float64 { return float64(p.limiter.Shed()) }))
	// Every call to another service goes through the resilience
	// transport: per-try timeouts, retries of repeatable calls, a breaker
	// and a concurrency limit per upstream (see README).
	upstreams := resilience.NewTransport(upstreamTransport(), cfg.Policy)
	reg.MustRegister(breakerGauges(spec.Service, cfg, upstreams)...)
	p.deps = &Deps{
		Service: spec.Service, Config: cfg, Getenv: getenv, Log: log,
		Metrics: endpointmw.NewMetrics(reg, string(spec.Service)), Registry: reg,
		// Above the resilience transport, a client span per call carries
		// the traceparent.
		HTTP: &http.Client{Transport: tel.Transport(upstreams, cfg.upstreamAt)},
		Now:  time.Now,
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	p.bgCtx = bgCtx
	p.onStop(func() { stopBackground(); p.background.Wait() })
	return p
}

func (p *process) onStop(fn func()) { p.undo = append(p.undo, fn) }

func (p *process) stop() {
	for i := len(p.undo) - 1; i >= 0; i-- {
		p.undo[i]()
	}
}

func (p *process) goBackground(fn func(ctx context.Context)) {
	p.background.Go(func() { fn(p.bgCtx) })
}

// setupAuth reads how identities are checked (AUTH_*, SERVICE_AUTH_*)
// and makes the upstream calls carry one.
func (p *process) setupAuth(context.Context) error {
	c, err := auth.ConfigFromEnv(p.deps.Getenv)
	if err != nil {
		return err
	}
	a, err := auth.New(p.spec.Service, c, p.log)
	if err != nil {
		return err
	}
	p.authn, p.deps.Auth = a, a
	var own func(context.Context) (string, error)
	switch {
	case a.Off():
	case p.cfg.serviceTokens != nil:
		own = p.cfg.serviceTokens
	default:
		own = auth.FileTokens(c.ServiceTokenFile)
	}
	p.deps.HTTP.Transport = auth.Transport{Base: p.deps.HTTP.Transport, ServiceToken: own}
	return nil
}

// openDatabase opens and migrates the service's database, if it keeps data.
func (p *process) openDatabase(ctx context.Context) error {
	if p.spec.Migrations == nil {
		return nil
	}
	db, err := sqldb.Open(ctx, sqldb.Config{Name: string(p.spec.Service), DataDir: p.cfg.DataDir,
		DatabaseURL: p.cfg.DatabaseURL, Schema: p.cfg.SchemaPref + string(p.spec.Service), Sync: sqldb.Sync(p.cfg.SQLiteSync),
		MaxConns: p.cfg.DatabaseMaxConns,
		Tracer:   p.tel.Tracer()})
	if err != nil {
		return err
	}
	p.onStop(func() { db.Close() })
	if err := db.Migrate(ctx, p.spec.Migrations); err != nil {
		return err
	}
	p.deps.DB = db
	p.ready.Add("database", db.PingContext)
	p.log.Info("database ready", "dialect", db.Dialect, "where", db.Where)
	return nil
}

// connectEvents connects to JetStream (an embedded server when NATS_URL
// is empty), if the service publishes or consumes events.
func (p *process) connectEvents(ctx context.Context) error {
	if !p.spec.Events {
		return nil
	}
	url := p.cfg.NATSURL
	if url == "" {
		ns, err := nats.StartEmbedded(filepath.Join(p.cfg.DataDir, "nats-"+string(p.spec.Service)), "127.0.0.1", -1)
		if err != nil {
			return err
		}
		p.onStop(func() { ns.Shutdown(); ns.WaitForShutdown() })
		url = ns.ClientURL()
		p.log.Info("embedded nats-server started", "url", url)
	}
	nc, js, err := nats.Connect(ctx, url, string(p.spec.Service), p.cfg.StreamReplicas)
	if err != nil {
		return err
	}
	p.onStop(nc.Close)
	p.js = js
	p.ready.Add("nats", nats.StreamAvailable(nc, js))
	return nil
}

// startRelay publishes the outbox, when the service has both a database
// and events.
func (p *process) startRelay(context.Context) error {
	if p.deps.DB == nil || p.js == nil {
		return nil
	}
	p.deps.Relay = outbox.NewRelay(p.deps.DB, nats.Publisher{JS: p.js}, p.log, time.Second).WithTracer(p.tel.Tracer())
	p.registry.MustRegister(outbox.NewCollector(p.spec.Service, p.deps.DB, p.deps.Now, p.log))
	p.goBackground(func(ctx context.Context) { p.deps.Relay.Run(ctx, p.cfg.Drain) })
	return nil
}

// build hands the dependencies to the service and starts what it returns:
// its readiness checks, consumers and background work.
func (p *process) build(ctx context.Context) error {
	built, err := p.spec.Build(ctx, p.deps)
	if err != nil {
		return fmt.Errorf("build %s: %w", p.spec.Service, err)
	}
	p.built = built
	for name, check := range built.Ready {
		p.ready.Add(name, check)
	}
	for _, c := range built.Consumers {
		if p.js == nil {
			return fmt.Errorf("%s: consumer %s needs Spec.Events", p.spec.Service, c.Durable)
		}
		c.Tracer = p.tel.Tracer()
		stop, err := nats.Consume(ctx, p.js, c, p.log)
		if err != nil {
			return err
		}
		p.onStop(stop)
	}
	for _, fn := range built.Background {
		p.goBackground(fn)
	}
	return nil
}

// startAdmin serves fault injection on the admin listener, if configured.
// The gateway routes nothing there and no Kubernetes Service exposes it.
func (p *process) startAdmin(context.Context) error {
	if p.cfg.AdminAddr == "" {
		return nil
	}
	ln := p.cfg.adminLn
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", p.cfg.AdminAddr); err != nil {
			return fmt.Errorf("admin listener %s: %w", p.cfg.AdminAddr, err)
		}
	}
	// The admin listener also profiles the process in place (go tool pprof
	// http://<admin>/debug/pprof/profile): it is on loopback or the pod's.
	admin := http.NewServeMux()
	admin.Handle("/", fault.AdminHandler(&p.faults, p.cfg.HealthyFile, fault.Crash))
	admin.HandleFunc("/debug/pprof/", pprof.Index)
	admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
	admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
	p.goBackground(func(ctx context.Context) {
		if err := httpx.Serve(ctx, ln, admin, time.Second); err != nil {
			p.log.Warn("admin listener stopped", "err", err)
		}
	})
	p.log.Info("admin listener (fault injection)", "addr", ln.Addr().String())
	return nil
}

// routes are the service's own routes behind the fault injector, and the
// endpoints every service serves.
func (p *process) routes() (http.Handler, error) {
	mux := httpx.NewRouter()
	doc, err := openapi.Document("carrental "+string(p.spec.Service), openapi.Version, p.spec.API)
	if err != nil {
		return nil, err
	}
	api, err := openapi.Handler(doc)
	if err != nil {
		return nil, err
	}
	mux.Handle("GET "+openapi.Path, api)
	mux.HandleFunc("GET "+contract.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET "+contract.PathReadyz, p.ready.Handler(httpx.WriteJSON))
	mux.Handle("GET "+contract.PathMetrics, promhttp.HandlerFor(p.registry, promhttp.HandlerOpts{Registry: p.registry}))
	switch {
	case p.built.Handler == nil:
	case p.built.OwnAdmission:
		// Traced outermost: a refused request has its span and trace ID
		// too. (/healthz, /readyz and /metrics are polled and make no
		// traces.)
		mux.Handle("/", p.tel.Handler(p.faults.Middleware(p.authn.Middleware(p.built.Handler))))
	default:
		// Capacity first: a request that is shed costs nothing further
		// (not even checking its token's signature).
		mux.Handle("/", p.tel.Handler(p.limiter.Middleware(p.faults.Middleware(p.authn.Middleware(p.built.Handler)))))
	}
	return mux, nil
}

// serve marks the service live and serves until ctx is done, then drains.
func (p *process) serve(ctx context.Context, ln net.Listener) error {
	routes, err := p.routes()
	if err != nil {
		return err
	}
	if err := health.MarkLive(p.cfg.HealthyFile); err != nil {
		return err
	}
	p.onStop(func() { _ = health.MarkDead(p.cfg.HealthyFile) })
	p.log.Info("serving", "addr", ln.Addr().String(), "liveness_file", p.cfg.HealthyFile, "max_in_flight", p.limiter.Capacity(),
		"tracing", p.tel.Mode())
	if p.cfg.onServing != nil {
		p.cfg.onServing()
	}
	err = httpx.Serve(ctx, ln, routes, p.cfg.Drain)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	p.log.Info("stopped")
	return nil
}

// breakerGauges serve the state of the breaker on calls to each upstream
// of service (contract.MetricBreakerState), read at each scrape.
func breakerGauges(service contract.Service, cfg Config, t *resilience.Transport) []prometheus.Collector {
	var out []prometheus.Collector
	for _, up := range contract.Calls()[service] {
		u, err := url.Parse(cfg.Upstream(up))
		if err != nil {
			continue // LoadConfig accepted only URLs that parse
		}
		out = append(out, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        contract.Metric(service, contract.MetricBreakerState),
			Help:        "Circuit breaker on calls to the upstream: 0 closed, 1 half-open, 2 open.",
			ConstLabels: prometheus.Labels{contract.LabelUpstream: string(up)},
		}, func() float64 {
			switch t.BreakerState(u.Host) {
			case "open":
				return contract.BreakerOpen
			case "half-open":
				return contract.BreakerHalfOpen
			default:
				return contract.BreakerClosed
			}
		}))
	}
	return out
}

func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}
