// Command testapp is the workload of the node's test (cluster_test.go): a
// small HTTP server with a liveness file, the shape of carrental's services
// without their dependencies.
//
//	testapp serve        writes the liveness file, serves :8080
//	                     (/healthz, /hostname, /fetch?url=)
//	testapp probe        exits 1 when the liveness file is missing (exec liveness probe)
//	testapp unhealthy    removes the liveness file
//	testapp fetch URL    prints URL's body; exits 1 on an error or a non-200 answer
//	testapp dial ADDR    opens a TCP connection to ADDR (host:port) within 3 s; exits 1 if it cannot
//	testapp cat FILE     prints FILE (a mounted ConfigMap's key)
//	testapp sql URL      connects to the PostgreSQL at URL, prints current_database()
//	testapp resolve NAME prints NAME's addresses (the pod's resolver, 3 s)
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func healthyFile() string {
	if f := os.Getenv("HEALTHY_FILE"); f != "" {
		return f
	}
	return "/tmp/healthy"
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testapp serve|probe|unhealthy|fetch URL")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "testapp:", err)
			os.Exit(1)
		}
	case "probe":
		if _, err := os.Stat(healthyFile()); err != nil {
			fmt.Fprintln(os.Stderr, "unhealthy:", err)
			os.Exit(1)
		}
	case "unhealthy":
		if err := os.Remove(healthyFile()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "fetch":
		if len(os.Args) != 3 {
			fmt.Fprintln(os.Stderr, "usage: testapp fetch URL")
			os.Exit(2)
		}
		body, err := fetch(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(body)
	case "dial", "cat", "sql", "resolve":
		if len(os.Args) != 3 {
			fmt.Fprintf(os.Stderr, "usage: testapp %s ARG\n", os.Args[1])
			os.Exit(2)
		}
		out, err := map[string]func(string) (string, error){"dial": dial, "cat": cat, "sql": sql, "resolve": resolve}[os.Args[1]](os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Print(out)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func fetch(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

func dial(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return "connected", nil
}

func resolve(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	return strings.Join(addrs, " "), err
}

func cat(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

func sql(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	var db string
	err = c.QueryRow(ctx, "SELECT current_database()").Scan(&db)
	return db, err
}

func serve() error {
	if err := os.WriteFile(healthyFile(), []byte("ok\n"), 0o644); err != nil {
		return err
	}
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /hostname", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, host) })
	mux.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		body, err := fetch(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, body)
	})
	srv := &http.Server{Addr: ":8080", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
