// Package app is the runtime every service binary shares: configuration from
// the environment, the database and its migrations, JetStream with the
// outbox relay and the consumers, /healthz /readyz /metrics, the liveness
// file, and graceful shutdown. A service plugs in through a Spec.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/fault"
	"github.com/carrental/carrental/svc/health"
	"github.com/carrental/carrental/svc/httpkit"
	"github.com/carrental/carrental/svc/kitmw"
	"github.com/carrental/carrental/svc/nats"
	"github.com/carrental/carrental/svc/outbox"
	"github.com/carrental/carrental/svc/resilience"
	"github.com/carrental/carrental/svc/sqldb"
)

// Spec is how a service plugs into the runtime.
type Spec struct {
	Service    contract.Service
	Migrations fs.FS // the service's migrations; nil when it keeps no data
	Events     bool  // whether it publishes or consumes events
	Build      func(ctx context.Context, d *Deps) (*Built, error)
}

// Deps are what the runtime hands a service to build itself from.
type Deps struct {
	Service  contract.Service
	Config   Config
	Getenv   func(string) string
	Log      *slog.Logger
	DB       *sqldb.DB     // nil without Migrations
	Relay    *outbox.Relay // nil without DB and Events; Notify it after a commit that added events
	Metrics  *kitmw.Metrics
	Registry *prometheus.Registry
	HTTP     *http.Client // for calls to upstream services, with the resilience policy applied
	Now      func() time.Time
}

// Built is what a service hands back: its routes, its consumers and any
// background work that must stop with it.
type Built struct {
	Handler    http.Handler
	Consumers  []nats.Consumer
	Background []func(ctx context.Context)
	Ready      map[string]health.Check
}

// Main runs a service binary: "probe" checks liveness, anything else runs
// the service until SIGINT or SIGTERM.
func Main(spec Spec) {
	if len(os.Args) > 1 && os.Args[1] == contract.ProbeSubcommand {
		path := os.Getenv(contract.EnvHealthyFile)
		if path == "" {
			path = contract.HealthyFile
		}
		os.Exit(health.Probe(path, os.Stderr))
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
// (tests and the all-in-one binary pick their own ports).
func RunOn(ctx context.Context, spec Spec, cfg Config, ln net.Listener, getenv func(string) string, log *slog.Logger) (err error) {
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	defer func() {
		// A shutdown that arrives while the service is still starting
		// (connecting to NATS, migrating) is a clean stop, not a failure.
		if err != nil && ctx.Err() != nil {
			log.Info("stopped while starting", "reason", err)
			err = nil
		}
	}()
	defer func() {
		if err != nil {
			ln.Close()
		}
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deps := &Deps{
		Service: spec.Service, Config: cfg, Getenv: getenv, Log: log,
		Metrics: kitmw.NewMetrics(reg, string(spec.Service)), Registry: reg,
		// Every call to another service goes through the resilience
		// transport: per-try timeouts, retries of repeatable calls, a
		// breaker and a concurrency limit per upstream (see README).
		HTTP: &http.Client{Transport: resilience.NewTransport(upstreamTransport(), cfg.Policy)},
		Now:  time.Now,
	}
	var ready health.Readiness

	if spec.Migrations != nil {
		db, err := sqldb.Open(ctx, sqldb.Config{Name: string(spec.Service), DataDir: cfg.DataDir,
			DatabaseURL: cfg.DatabaseURL, Schema: cfg.SchemaPref + string(spec.Service)})
		if err != nil {
			return err
		}
		closers = append(closers, func() { db.Close() })
		if err := db.Migrate(ctx, spec.Migrations); err != nil {
			return err
		}
		deps.DB = db
		ready.Add("database", db.PingContext)
		log.Info("database ready", "dialect", db.Dialect, "where", db.Where)
	}

	var js jetstream.JetStream
	if spec.Events {
		url := cfg.NATSURL
		if url == "" {
			ns, err := nats.StartEmbedded(filepath.Join(cfg.DataDir, "nats-"+string(spec.Service)), "127.0.0.1", -1)
			if err != nil {
				return err
			}
			closers = append(closers, func() { ns.Shutdown(); ns.WaitForShutdown() })
			url = ns.ClientURL()
			log.Info("embedded nats-server started", "url", url)
		}
		nc, jsc, err := nats.Connect(ctx, url, string(spec.Service))
		if err != nil {
			return err
		}
		closers = append(closers, nc.Close)
		js = jsc
		ready.Add("nats", func(context.Context) error {
			if s := nc.Status(); s != natsgo.CONNECTED {
				return fmt.Errorf("nats connection is %s", s)
			}
			return nil
		})
	}

	var background sync.WaitGroup
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	closers = append(closers, func() { stopBackground(); background.Wait() })
	if deps.DB != nil && js != nil {
		deps.Relay = outbox.NewRelay(deps.DB, nats.Publisher{JS: js}, log, time.Second)
		background.Go(func() { deps.Relay.Run(bgCtx, cfg.Drain) })
	}

	built, err := spec.Build(ctx, deps)
	if err != nil {
		return fmt.Errorf("build %s: %w", spec.Service, err)
	}
	for name, check := range built.Ready {
		ready.Add(name, check)
	}
	for _, c := range built.Consumers {
		if js == nil {
			return fmt.Errorf("%s: consumer %s needs Spec.Events", spec.Service, c.Durable)
		}
		stop, err := nats.Consume(ctx, js, c, log)
		if err != nil {
			return err
		}
		closers = append(closers, stop)
	}
	for _, fn := range built.Background {
		background.Go(func() { fn(bgCtx) })
	}

	// Faults are switched on the admin listener only; the gateway routes
	// nothing there and no Kubernetes Service exposes its port.
	var faults fault.Injector
	if cfg.AdminAddr != "" {
		adminLn := cfg.adminLn
		if adminLn == nil {
			if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
				return fmt.Errorf("admin listener %s: %w", cfg.AdminAddr, err)
			}
		}
		background.Go(func() {
			if err := httpkit.Serve(bgCtx, adminLn, fault.AdminHandler(&faults, cfg.HealthyFile), time.Second); err != nil {
				log.Warn("admin listener stopped", "err", err)
			}
		})
		log.Info("admin listener (fault injection)", "addr", adminLn.Addr().String())
	}

	mux := httpkit.NewRouter()
	mux.HandleFunc("GET "+contract.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		httpkit.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET "+contract.PathReadyz, ready.Handler(httpkit.WriteJSON))
	mux.Handle("GET "+contract.PathMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if built.Handler != nil {
		mux.Handle("/", faults.Middleware(built.Handler))
	}

	if err := health.MarkLive(cfg.HealthyFile); err != nil {
		return err
	}
	closers = append(closers, func() { _ = health.MarkDead(cfg.HealthyFile) })
	log.Info("serving", "addr", ln.Addr().String(), "liveness_file", cfg.HealthyFile)
	err = httpkit.Serve(ctx, ln, mux, cfg.Drain)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}
