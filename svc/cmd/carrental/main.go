// Command carrental runs the whole rental system on this machine with no
// cloud and no Docker: all six services, an embedded nats-server and SQLite,
// the gateway on :8080.
//
//	go run ./svc/cmd/carrental            # run everything
//	go run ./svc/cmd/carrental -h         # options
//	go run ./svc/cmd/carrental load -c 20 -t 30s POST http://127.0.0.1:8080/carManagements '{...}'
//	go run ./svc/cmd/carrental experiment liveness autoscale   # the write-up's runbook, against a cluster
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/tools/loadgen"
	"github.com/carrental/carrental/svc/wiring/local"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "carrental:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "experiment" {
		return runExperiments(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "token" {
		return tokenCommand(args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "load" {
		opts, err := loadgen.ParseArgs(args[1:], stderr)
		if err != nil {
			return err
		}
		_, err = loadgen.Run(ctx, opts, stdout)
		return err
	}
	fs := flag.NewFlagSet("carrental", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", envOr(getenv, contract.EnvDataDir, "./data"), "directory for SQLite files and JetStream storage ($DATA_DIR)")
	host := fs.String("host", "127.0.0.1", "interface to listen on")
	logFormat := fs.String("log", "text", "log format: text or json")
	ports := fs.String("ports", "fixed", "fixed: gateway :8080 and the services on the next ports; auto: free ports")
	readyFile := fs.String("ready-file", "", "once every service listens, write their URLs here as JSON (for scripts)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: carrental [flags]\n\nRuns gateway (:%d) and the five services (:%d-:%d) with embedded NATS and SQLite.\n\n",
			contract.LocalPort(contract.Gateway), contract.LocalPort(contract.Management), contract.LocalPort(contract.View))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(envOr(getenv, contract.EnvLogLevel, "info"))); err != nil {
		return fmt.Errorf("%s: %w", contract.EnvLogLevel, err)
	}
	var handler slog.Handler
	switch *logFormat {
	case "text":
		handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	default:
		return fmt.Errorf("-log %q: want text or json", *logFormat)
	}

	if *ports != "fixed" && *ports != "auto" {
		return fmt.Errorf("-ports %q: want fixed or auto", *ports)
	}
	sys, err := local.Start(ctx, local.Options{
		DataDir: *dataDir, Host: *host, FixedPorts: *ports == "fixed", Getenv: getenv, Log: slog.New(handler),
	})
	if err != nil {
		return err
	}
	tokens := map[string]string{}
	if sys.LocalUsers {
		// Ready to paste, and in the ready file for the scripts: a day
		// long, so a bench or a demo does not outlive them.
		for role, sub := range map[string]string{contract.RoleStaff: "staff01", contract.RoleCustomer: "cus01"} {
			if tokens[role], err = sys.Token(role, sub, 24*time.Hour); err != nil {
				return err
			}
		}
	}
	if *readyFile != "" {
		b, _ := json.Marshal(map[string]any{"urls": sys.URLs, "admin": sys.Admin, "pid": os.Getpid(), "issuer": sys.Issuer, "tokens": tokens})
		if err := os.WriteFile(*readyFile, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "carrental is running (data in %s). Try:\n", *dataDir)
	if sys.LocalUsers {
		fmt.Fprintf(stdout, "  export STAFF_TOKEN=%s\n", tokens[contract.RoleStaff])
		fmt.Fprintf(stdout, "  export CUSTOMER_TOKEN=%s   # cus01\n", tokens[contract.RoleCustomer])
		fmt.Fprintf(stdout, "  curl -s -H \"Authorization: Bearer $STAFF_TOKEN\" %s%s\n", sys.Gateway(), contract.PathCarManagements)
		fmt.Fprintf(stdout, "  (more: carrental token -data %s --role customer --sub cus02)\n", *dataDir)
	} else {
		fmt.Fprintf(stdout, "  curl -s %s%s\n", sys.Gateway(), contract.PathCarInformations)
	}
	if sys.Issuer != "" {
		fmt.Fprintf(stdout, "  %-12s %s\n", "issuer", sys.Issuer)
	}
	for _, s := range contract.Services() {
		fmt.Fprintf(stdout, "  %-12s %s   (admin %s)\n", s, sys.URLs[s], sys.Admin[s])
	}
	fmt.Fprintln(stdout, "Ctrl-C stops it.")
	err = sys.Wait()
	fmt.Fprintln(stdout, "carrental stopped.")
	return err
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
