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
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

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
	node := fs.Bool("node", false, "deploy into the node of scripts/cluster (its kubeconfig, PostgreSQL and loaded images; charts from their modules; "+
		"mesh mode policies, NATS as a StatefulSet); needs -image-tag")
	extra := map[string]string{}
	fs.Func("config", "carrental:key=value, repeatable: more stack config, e.g. the users' issuer "+
		"(carrental:authIssuer=https://… and carrental:authJwksUri=https://…) or carrental:authMode=off", func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.Contains(k, ":") {
			return fmt.Errorf("%q: want namespace:key=value", kv)
		}
		extra[k] = v
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: local-stack [flags] up|preview|destroy")
	}
	if *node {
		return runOnNode(ctx, *state, *imageTag, fs.Arg(0), extra)
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
	maps.Copy(config, extra)
	return apply(ctx, filepath.Join(cache, "tools"), *state, kubeconfig, config, fs.Arg(0))
}

// runOnNode deploys into the node scripts/cluster runs.
func runOnNode(ctx context.Context, state, imageTag, command string, extra map[string]string) error {
	if imageTag == "" && command != "destroy" {
		return fmt.Errorf("-node needs -image-tag: the tag scripts/build-images printed for the images loaded with scripts/cluster load")
	}
	n, err := testbed.NewNode(testbed.DefaultNodeDir())
	if err != nil {
		return err
	}
	if _, _, up := n.Status(ctx); !up {
		return fmt.Errorf("the node is not up: scripts/cluster up")
	}
	config, err := n.NodeStackConfig(imageTag)
	if err != nil {
		return err
	}
	if imageTag == "" {
		delete(config, "carrental:imageTag")
	}
	maps.Copy(config, extra)
	return apply(ctx, filepath.Join(filepath.Dir(state), "tools"), state, n.Kubeconfig(), config, command)
}

func apply(ctx context.Context, tools, state, kubeconfig string, config map[string]string, command string) error {
	s, err := testbed.OpenLocalStack(ctx, testbed.LocalStackOptions{
		ToolsRoot: tools, StateDir: state, Kubeconfig: kubeconfig, Config: config,
	})
	if err != nil {
		return err
	}
	switch command {
	case "up":
		_, err = s.Stack.Up(ctx, optup.ProgressStreams(os.Stdout))
	case "preview":
		_, err = s.Stack.Preview(ctx, optpreview.ProgressStreams(os.Stdout))
	case "destroy":
		_, err = s.Stack.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout))
	default:
		return fmt.Errorf("unknown command %q: want up, preview or destroy", command)
	}
	return err
}
