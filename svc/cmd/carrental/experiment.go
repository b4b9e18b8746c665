package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/tools/experiment"
)

// runExperiments is `carrental experiment [flags] NAME...`: the write-up's
// runbook against any cluster the stack deployed to.
func runExperiments(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("experiment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	home, _ := os.UserHomeDir()
	kubeconfig := fs.String("kubeconfig", envOr(getenv, "KUBECONFIG", filepath.Join(home, ".kube", "config")), "kubeconfig of the cluster")
	namespace := fs.String("namespace", "carrental", "the app's namespace (carrental:namespace)")
	gateway := fs.String("gateway", "", "the gateway's base URL from here (default: its Service's ClusterIP, reachable on a node; elsewhere a port-forward or the ingress)")
	ctr := fs.String("ctr", "ctr", "ctr binary, with -containerd-socket")
	socket := fs.String("containerd-socket", "", "on the node itself: kill -9 through this containerd instead of the service's admin crash")
	region := fs.String("region", "busan", "configmap: the region to switch rental to (and back)")
	shedding := fs.Bool("expect-shedding", false, "breaker: the stack runs the write-up's demo pool (carrental:resilience writeup), so the siege must see fast 503s")
	settle := fs.Duration("settle", 7*time.Minute, "autoscale: how long to wait for the way back down (the HPA's scale-down window + a minute)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: carrental experiment [flags] NAME... | all\n\nexperiments: %s\n\n", strings.Join(experiment.Names, " "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("name at least one experiment")
	}
	rest, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", *kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	env := &experiment.Env{Kube: kube, REST: rest, Namespace: *namespace, Gateway: strings.TrimRight(*gateway, "/"), Out: stdout}
	if env.Gateway == "" {
		if env.Gateway, err = experiment.ServiceURL(ctx, env, contract.Gateway); err != nil {
			return fmt.Errorf("finding the gateway (or pass -gateway): %w", err)
		}
	}
	if *socket != "" {
		env.Kill = experiment.ContainerdKiller(env, *ctr, *socket)
	}
	results, err := experiment.Run(ctx, env, fs.Args(), experiment.Options{Region: *region, ExpectShedding: *shedding, Settle: *settle})
	fmt.Fprintln(stdout)
	failed := 0
	for _, r := range results {
		verdict := "PASS"
		if !r.Passed {
			verdict, failed = "FAIL", failed+1
		}
		fmt.Fprintf(stdout, "%s  %-10s %s\n", verdict, r.Name, r.Summary)
	}
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d experiments failed", failed, len(results))
	}
	return nil
}
