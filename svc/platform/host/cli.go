package host

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/health"
)

// Subcommands of every service binary besides serving. The images have no
// shell, no cat and no curl, so what an operator (or an experiment) does
// inside a pod with `kubectl exec` the binary does itself:
//
//	<binary> probe                          exit 1 when the liveness file is missing
//	<binary> http [-timeout D] METHOD URL [BODY]
//	                                        one HTTP request; prints the status line and body,
//	                                        exits 1 on a transport error or a status >= 400
//
// e.g. kubectl exec <pod> -- /ko-app/payment http PUT http://127.0.0.1:9091/fault '{"errorRate":0.3}'
const HTTPSubcommand = "http"

// runSubcommand runs args[0] when it is a subcommand and reports whether
// it was one, with the exit code.
func runSubcommand(args []string, getenv func(string) string, stdout, stderr io.Writer) (code int, handled bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case contract.ProbeSubcommand:
		path := getenv(contract.EnvHealthyFile)
		if path == "" {
			path = contract.HealthyFile
		}
		return health.Probe(path, stderr), true
	case HTTPSubcommand:
		return httpCommand(args[1:], stdout, stderr), true
	}
	return 0, false
}

func httpCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	args = fs.Args()
	if len(args) < 2 || len(args) > 3 {
		fmt.Fprintln(stderr, "usage: http [-timeout D] METHOD URL [BODY]")
		return 2
	}
	var body io.Reader
	if len(args) == 3 {
		body = strings.NewReader(args[2])
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, strings.ToUpper(args[0]), args[1], body)
	if err != nil {
		fmt.Fprintln(stderr, "http:", err)
		return 2
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "http:", err)
		return 1
	}
	defer resp.Body.Close()
	fmt.Fprintln(stdout, resp.Status)
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		fmt.Fprintln(stderr, "http: reading the body:", err)
		return 1
	}
	if resp.StatusCode >= 400 {
		return 1
	}
	return 0
}
