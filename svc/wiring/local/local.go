// Package local runs the whole rental system in one process on embedded
// defaults: one nats-server with JetStream, each service with its own SQLite
// file (or its own PostgreSQL schema when DATABASE_URL is set), the gateway
// in front. It is what `go run ./svc/cmd/carrental` and the end-to-end tests
// start.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/platform/httpx"
	"github.com/carrental/carrental/svc/platform/nats"
	"github.com/carrental/carrental/svc/wiring"
)

// Options say where the system keeps its data and where it listens.
type Options struct {
	DataDir string
	// Host is the interface the services listen on, e.g. 127.0.0.1.
	Host string
	// FixedPorts uses contract.LocalPort for every service (gateway :8080);
	// otherwise every service takes a free port (tests).
	FixedPorts bool
	// Getenv supplies the rest of the environment (DATABASE_URL, NATS_URL,
	// LOG_LEVEL, ...); the per-service addresses are set here.
	Getenv func(string) string
	Log    *slog.Logger
	// Specs are the services to run; default wiring.All().
	Specs []host.Spec
	// SpanExporter, when set, receives every service's spans as they end
	// (tests: tracetest.InMemoryExporter), whatever the OTEL_* keys say.
	SpanExporter sdktrace.SpanExporter
}

// System is a running local system.
type System struct {
	URLs  map[contract.Service]string
	Admin map[contract.Service]string // fault injection, see package fault
	// Issuer is the local issuer's URL ("" with AUTH_MODE=off); it signs
	// the services' own tokens, and the users' unless AUTH_ISSUER names
	// an external one (then Signer mints nothing users can use).
	Issuer string
	Signer *auth.Signer
	// LocalUsers says the users' tokens are the local issuer's.
	LocalUsers bool
	done       chan struct{}
	err        error
}

// Gateway is the gateway's base URL.
func (s *System) Gateway() string { return s.URLs[contract.Gateway] }

// Wait blocks until every service has stopped and returns the first error.
func (s *System) Wait() error { <-s.done; return s.err }

// Start starts every service and returns once all of them serve. The
// system stops when ctx is done (or when one service fails); Wait for it.
// When any part fails to start, Start stops everything it started — the
// services already running, the embedded NATS server, every listener —
// before it returns the error.
func Start(ctx context.Context, opt Options) (sys *System, err error) {
	if opt.Host == "" {
		opt.Host = "127.0.0.1"
	}
	if opt.Specs == nil {
		opt.Specs = wiring.All()
	}
	ctx, cancel := context.WithCancel(ctx)
	sys = &System{URLs: map[contract.Service]string{}, Admin: map[contract.Service]string{}, done: make(chan struct{})}
	var (
		undo     []func()
		services sync.WaitGroup
		mu       sync.Mutex
		errs     []error
	)
	// stopAll runs once: it stops the services, then what they ran on.
	stopAll := sync.OnceFunc(func() {
		cancel()
		services.Wait()
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	})
	defer func() {
		if err != nil {
			stopAll()
		}
	}()

	listeners, admin, err := listen(opt, sys, &undo)
	if err != nil {
		return nil, err
	}
	authEnv, err := startIssuer(ctx, opt, sys, &undo)
	if err != nil {
		return nil, err
	}
	natsURL := opt.Getenv(contract.EnvNATSURL)
	if natsURL == "" {
		ns, err := nats.StartEmbedded(filepath.Join(opt.DataDir, "nats"), "127.0.0.1", -1)
		if err != nil {
			return nil, err
		}
		undo = append(undo, func() { ns.Shutdown(); ns.WaitForShutdown() })
		natsURL = ns.ClientURL()
		opt.Log.Info("embedded nats-server", "url", natsURL, "store", filepath.Join(opt.DataDir, "nats"))
	}

	serving := make(chan contract.Service, len(opt.Specs))
	failed := make(chan struct{})
	failOnce := sync.OnceFunc(func() { close(failed) })
	for _, spec := range opt.Specs {
		getenv := serviceEnv(opt, spec.Service, listeners[spec.Service], natsURL, sys.URLs, authEnv)
		cfg, err := host.LoadConfig(spec.Service, getenv)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Service, err)
		}
		cfg = cfg.WithAdminListener(admin[spec.Service]).WithOnServing(func() { serving <- spec.Service })
		if sys.Signer != nil {
			cfg = cfg.WithServiceTokens(auth.SignerTokens(sys.Signer, contract.LocalNamespace, spec.Service))
		}
		if opt.SpanExporter != nil {
			cfg = cfg.WithSpanExporter(opt.SpanExporter)
		}
		services.Go(func() {
			err := host.RunOn(ctx, spec, cfg, listeners[spec.Service], getenv, opt.Log.With("service", string(spec.Service)))
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", spec.Service, err))
				mu.Unlock()
				failOnce()
				cancel() // one service down takes the local system down
			}
		})
	}
	for range opt.Specs {
		select {
		case <-serving:
		case <-failed:
		case <-ctx.Done():
		}
		// A failing service closes failed and then cancels ctx, so both may
		// be ready and select picks either: whichever it is, stop everything
		// and report the services' errors, ctx's only when there are none.
		if ctx.Err() != nil || isClosed(failed) {
			stopAll()
			mu.Lock()
			defer mu.Unlock()
			if len(errs) > 0 {
				return nil, errors.Join(errs...)
			}
			return nil, ctx.Err()
		}
	}
	go func() {
		<-ctx.Done()
		stopAll()
		mu.Lock()
		sys.err = errors.Join(errs...)
		mu.Unlock()
		close(sys.done)
	}()
	return sys, nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// listen opens every service's listener and admin listener up front, so
// each service knows its upstreams' addresses before any of them starts.
// Admin listeners stay on loopback whatever Host says.
func listen(opt Options, sys *System, undo *[]func()) (listeners, admin map[contract.Service]net.Listener, err error) {
	listeners, admin = map[contract.Service]net.Listener{}, map[contract.Service]net.Listener{}
	open := func(hostname string, port int) (net.Listener, error) {
		ln, err := net.Listen("tcp", net.JoinHostPort(hostname, fmt.Sprint(port)))
		if err == nil {
			*undo = append(*undo, func() { ln.Close() })
		}
		return ln, err
	}
	for _, spec := range opt.Specs {
		s := spec.Service
		port, adminPort := 0, 0
		if opt.FixedPorts {
			port, adminPort = contract.LocalPort(s), contract.LocalAdminPort(s)
		}
		if listeners[s], err = open(opt.Host, port); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s, err)
		}
		sys.URLs[s] = "http://" + listeners[s].Addr().String()
		if admin[s], err = open("127.0.0.1", adminPort); err != nil {
			return nil, nil, fmt.Errorf("%s admin: %w", s, err)
		}
		sys.Admin[s] = "http://" + admin[s].Addr().String()
	}
	return listeners, admin, nil
}

// serviceEnv is one service's environment: its address, the shared NATS
// and data directory, its upstreams' URLs, and opt.Getenv for the rest.
func serviceEnv(opt Options, s contract.Service, ln net.Listener, natsURL string, urls map[contract.Service]string, authEnv map[string]string) func(string) string {
	env := map[string]string{}
	maps.Copy(env, authEnv)
	maps.Copy(env, map[string]string{
		contract.EnvAddr:        ln.Addr().String(),
		contract.EnvNATSURL:     natsURL,
		contract.EnvDataDir:     opt.DataDir,
		contract.EnvHealthyFile: filepath.Join(opt.DataDir, "healthy", string(s)),
	})
	for _, up := range contract.Calls()[s] {
		env[contract.EnvURL(up)] = urls[up]
	}
	return func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return opt.Getenv(k)
	}
}

// KeyFile is where the local issuer keeps its signing key under the data
// directory, and IssuerFile where it writes its URL (for `carrental
// token`, which mints with the same key for the same issuer).
const (
	KeyFile    = "auth/signing-key.pem"
	IssuerFile = "auth/issuer"
)

// startIssuer runs the local issuer: its key kept under the data
// directory, OIDC discovery and the JWKS on contract.LocalIssuerPort (a
// free port without FixedPorts). Every service trusts it for service
// identities, and for users unless AUTH_ISSUER names another issuer.
// It returns the services' auth environment.
func startIssuer(ctx context.Context, opt Options, sys *System, undo *[]func()) (map[string]string, error) {
	if opt.Getenv(contract.EnvAuthMode) == contract.AuthOff {
		return nil, nil
	}
	key, err := auth.LoadOrCreateKey(filepath.Join(opt.DataDir, KeyFile))
	if err != nil {
		return nil, err
	}
	port := 0
	if opt.FixedPorts {
		port = contract.LocalIssuerPort
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(port)))
	if err != nil {
		return nil, fmt.Errorf("local issuer: %w", err)
	}
	sys.Issuer = "http://" + ln.Addr().String()
	if sys.Signer, err = auth.NewSigner(sys.Issuer, key); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(opt.DataDir, IssuerFile), []byte(sys.Issuer+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	jwks := sys.Issuer + contract.PathJWKS
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+contract.PathOIDCDiscovery, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]any{
			"issuer": sys.Issuer, "jwks_uri": jwks, "id_token_signing_alg_values_supported": []string{string(auth.SigningAlgorithm)},
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
		})
	})
	set := sys.Signer.JWKS()
	mux.HandleFunc("GET "+contract.PathJWKS, func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, set)
	})
	srvCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := httpx.Serve(srvCtx, ln, mux, time.Second); err != nil {
			opt.Log.Warn("local issuer stopped", "err", err)
		}
	}()
	*undo = append(*undo, func() { stop(); <-done })
	opt.Log.Info("local issuer", "issuer", sys.Issuer, "jwks", jwks, "key", filepath.Join(opt.DataDir, KeyFile))
	env := map[string]string{
		contract.EnvServiceIssuer: sys.Issuer, contract.EnvServiceJWKSURI: jwks, contract.EnvNamespace: contract.LocalNamespace,
	}
	if opt.Getenv(contract.EnvAuthIssuer) == "" {
		sys.LocalUsers = true
		env[contract.EnvAuthIssuer], env[contract.EnvAuthJWKSURI] = sys.Issuer, jwks
	}
	return env, nil
}

// Token mints a user token of the local issuer: staff or a customer.
func (s *System) Token(role, subject string, ttl time.Duration) (string, error) {
	if s.Signer == nil {
		return "", errors.New("no local issuer (AUTH_MODE=off)")
	}
	return s.Signer.Mint(auth.Token{Subject: subject, Roles: []string{role}, TTL: ttl})
}
