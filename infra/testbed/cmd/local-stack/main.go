// Command local-stack runs the infra program's local stack against the
// cluster in $KUBECONFIG (the test bed, kind, minikube, any cluster)
// through the Automation API: `local-stack up|preview|destroy`.
//
// Flags set chart paths for offline runs and skipAwait for clusters
// without a kubelet; without them charts come from their repositories.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/carrental/carrental/infra/testbed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "local-stack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("local-stack", flag.ContinueOnError)
	home, _ := os.UserHomeDir()
	cache := filepath.Join(home, ".cache", "carrental")
	if c := os.Getenv("CARRENTAL_CACHE"); c != "" {
		cache = c
	}
	state := fs.String("state", filepath.Join(cache, "local-stack"), "file backend and PULUMI_HOME")
	istio := fs.String("istio-charts", "", "local directory of Istio's charts (offline)")
	metrics := fs.String("metrics-server-chart", "", "local metrics-server chart (offline)")
	nats := fs.String("nats-chart", "", "local NATS chart; without it (and offline) NATS is skipped: natsMode none")
	skipAwait := fs.Bool("skip-await", false, "do not wait for workloads (a cluster with no kubelet)")
	imageTag := fs.String("image-tag", "", "tag of the carrental.local/<service> images loaded into the cluster (scripts/build-images prints it); without it only the platform is deployed")
	pullPolicy := fs.String("image-pull-policy", "", "Always (a registry serves the images) or IfNotPresent (images loaded into kind or minikube)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: local-stack [flags] up|preview|destroy")
	}
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		return fmt.Errorf("KUBECONFIG is not set")
	}
	config := map[string]string{"carrental:target": "local", "carrental:kubeconfig": kubeconfig}
	if *istio != "" {
		config["carrental:istioCharts.path"] = *istio
	}
	if *metrics != "" {
		config["carrental:metricsServerChart.path"] = *metrics
	}
	switch {
	case *nats != "":
		config["carrental:natsChart.path"] = *nats
	case *istio != "":
		fmt.Println("local-stack: no NATS chart given for an offline run: NATS is skipped (natsMode none)")
		config["carrental:natsMode"] = "none"
	}
	if *skipAwait {
		config["carrental:skipAwait"] = "true"
	}
	if *imageTag != "" {
		config["carrental:imageTag"] = *imageTag
	}
	if *pullPolicy != "" {
		config["carrental:imagePullPolicy"] = *pullPolicy
	}
	s, err := testbed.OpenLocalStack(ctx, testbed.LocalStackOptions{
		ToolsRoot: filepath.Join(cache, "tools"), StateDir: *state, Kubeconfig: kubeconfig, Config: config,
	})
	if err != nil {
		return err
	}
	switch fs.Arg(0) {
	case "up":
		_, err = s.Stack.Up(ctx, optup.ProgressStreams(os.Stdout))
	case "preview":
		_, err = s.Stack.Preview(ctx, optpreview.ProgressStreams(os.Stdout))
	case "destroy":
		_, err = s.Stack.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout))
	default:
		return fmt.Errorf("unknown command %q: want up, preview or destroy", fs.Arg(0))
	}
	return err
}
