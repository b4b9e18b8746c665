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
	"github.com/carrental/carrental/svc/platform/auth"
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
	signingKey := fs.String("signing-key", "", "for a stack that checks tokens: the PEM key whose key set the stack trusts (carrental:authJwks; carrental token -jwks prints a local run's), to mint the operator's and customers' tokens; with -issuer")
	issuer := fs.String("issuer", "", "with -signing-key: the tokens' iss, the stack's carrental:authIssuer")
	audience := fs.String("audience", contract.DefaultAudience, "with -signing-key: the tokens' aud, the stack's carrental:authAudience")
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
	token, err := experimentTokens(*signingKey, *issuer, *audience)
	if err != nil {
		return err
	}
	rest, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", *kubeconfig, err)
	}
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	env := &experiment.Env{Kube: kube, REST: rest, Namespace: *namespace, Gateway: strings.TrimRight(*gateway, "/"), Out: stdout, Token: token}
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

// experimentTokens mints the runbook's tokens with the key a stack trusts
// (nil without a key: a stack with authMode off). The key is never made
// anew: one the stack does not know would only mint refused tokens.
func experimentTokens(keyPath, issuer, audience string) (func(subject string, roles ...string) (string, error), error) {
	switch {
	case keyPath == "" && issuer == "":
		return nil, nil
	case keyPath == "":
		return nil, errors.New("experiment: -issuer needs -signing-key, the key the stack trusts")
	case issuer == "":
		return nil, errors.New("experiment: -signing-key needs -issuer, the stack's carrental:authIssuer")
	}
	key, err := auth.LoadKey(keyPath)
	if err != nil {
		return nil, fmt.Errorf("experiment: -signing-key: %w", err)
	}
	s, err := auth.NewSigner(issuer, key)
	if err != nil {
		return nil, err
	}
	return func(subject string, roles ...string) (string, error) {
		// The longest run (all, with the autoscaler's way down) fits.
		return s.Mint(auth.Token{Subject: subject, Audience: audience, Roles: roles, TTL: 2 * time.Hour})
	}, nil
}
