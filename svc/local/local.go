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
	"net"
	"path/filepath"
	"sync"

	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/nats"
	"github.com/carrental/carrental/svc/services"
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
}

// System is a running local system.
type System struct {
	URLs  map[contract.Service]string
	Admin map[contract.Service]string // fault injection, see package fault
	done  chan struct{}
	err   error
}

// Gateway is the gateway's base URL.
func (s *System) Gateway() string { return s.URLs[contract.Gateway] }

// Wait blocks until every service has stopped and returns the first error.
func (s *System) Wait() error { <-s.done; return s.err }

// Start starts every service and returns once all of them listen. The system
// stops when ctx is done (or when one service fails); Wait for it.
func Start(ctx context.Context, opt Options) (*System, error) {
	if opt.Host == "" {
		opt.Host = "127.0.0.1"
	}
	listeners := map[contract.Service]net.Listener{}
	adminListeners := map[contract.Service]net.Listener{}
	closeAll := func() {
		for _, ln := range listeners {
			ln.Close()
		}
		for _, ln := range adminListeners {
			ln.Close()
		}
	}
	sys := &System{URLs: map[contract.Service]string{}, Admin: map[contract.Service]string{}, done: make(chan struct{})}
	for _, s := range contract.Services() {
		port, adminPort := 0, 0
		if opt.FixedPorts {
			port, adminPort = contract.LocalPort(s), contract.LocalAdminPort(s)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(opt.Host, fmt.Sprint(port)))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s: %w", s, err)
		}
		listeners[s] = ln
		sys.URLs[s] = "http://" + ln.Addr().String()
		// Admin listeners stay on loopback whatever Host says.
		adminLn, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", fmt.Sprint(adminPort)))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("%s admin: %w", s, err)
		}
		adminListeners[s] = adminLn
		sys.Admin[s] = "http://" + adminLn.Addr().String()
	}

	natsURL := opt.Getenv(contract.EnvNATSURL)
	var shutdownNATS func()
	if natsURL == "" {
		ns, err := nats.StartEmbedded(filepath.Join(opt.DataDir, "nats"), "127.0.0.1", -1)
		if err != nil {
			closeAll()
			return nil, err
		}
		natsURL = ns.ClientURL()
		shutdownNATS = func() { ns.Shutdown(); ns.WaitForShutdown() }
		opt.Log.Info("embedded nats-server", "url", natsURL, "store", filepath.Join(opt.DataDir, "nats"))
	}

	ctx, cancel := context.WithCancel(ctx)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, spec := range services.All() {
		env := map[string]string{
			contract.EnvAddr:        listeners[spec.Service].Addr().String(),
			contract.EnvNATSURL:     natsURL,
			contract.EnvDataDir:     opt.DataDir,
			contract.EnvHealthyFile: filepath.Join(opt.DataDir, "healthy", string(spec.Service)),
		}
		for _, up := range contract.Calls()[spec.Service] {
			env[contract.EnvURL(up)] = sys.URLs[up]
		}
		getenv := func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return opt.Getenv(k)
		}
		cfg, err := app.LoadConfig(spec.Service, getenv)
		if err != nil {
			cancel()
			closeAll()
			return nil, fmt.Errorf("%s: %w", spec.Service, err)
		}
		cfg = cfg.WithAdminListener(adminListeners[spec.Service])
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := app.RunOn(ctx, spec, cfg, listeners[spec.Service], getenv, opt.Log.With("service", string(spec.Service)))
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", spec.Service, err))
				mu.Unlock()
				cancel() // one service down takes the local system down
			}
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		if shutdownNATS != nil {
			shutdownNATS()
		}
		sys.err = errors.Join(errs...)
		close(sys.done)
	}()
	return sys, nil
}
