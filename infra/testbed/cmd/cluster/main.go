// Command cluster runs a real single-node Kubernetes on this machine
// (testbed.Node): containerd, etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet, kube-proxy, CoreDNS and a PostgreSQL for the
// pods as background processes.
// scripts/cluster installs its Debian packages and builds its tools first.
//
//	cluster up          start (or finish starting) the node; wait until it is Ready and
//	                    cluster DNS answers; print the admin kubeconfig's path last on stdout.
//	                    CARRENTAL_CLUSTER_NETPOL=1: enforce NetworkPolicies (kube-router)
//	cluster status      components, pids, node readiness; exit 1 unless all is up
//	cluster load TAR... import image tarballs into the node's containerd
//	cluster down        delete pods, stop everything, put the machine back; a no-op when not up
//
// State (certificates, etcd, containerd, logs) lives in -dir, default
// $CARRENTAL_CLUSTER_DIR or ~/.cache/carrental/cluster; down removes it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/carrental/carrental/infra/testbed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string) (int, error) {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	dir := fs.String("dir", testbed.DefaultNodeDir(), "state directory")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: cluster [-dir DIR] up|status|load TAR...|down")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2, nil
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2, nil
	}
	n, err := testbed.NewNode(*dir)
	if err != nil {
		return 1, err
	}
	switch cmd := fs.Arg(0); cmd {
	case "up":
		// Optional NetworkPolicy enforcement (kube-router's firewall);
		// scripts/cluster builds kube-router and installs ipset for it.
		n.NetworkPolicy = os.Getenv("CARRENTAL_CLUSTER_NETPOL") == "1"
		if _, err := n.Up(ctx); err != nil {
			return 1, fmt.Errorf("%w\n(logs in %s/logs; `scripts/cluster down` removes what was started)", err, n.Dir)
		}
		// Last on stdout, alone: KUBECONFIG=$(scripts/cluster up) works.
		fmt.Println(n.Kubeconfig())
		return 0, nil
	case "status":
		comps, ready, up := n.Status(ctx)
		for _, c := range comps {
			if c.Running {
				fmt.Printf("%-24s running  pid %d\n", c.Name, c.PID)
			} else {
				fmt.Printf("%-24s stopped\n", c.Name)
			}
		}
		fmt.Printf("%-24s %s\n", "node "+testbed.NodeName, ready)
		if !up {
			fmt.Println("not up (scripts/cluster up)")
			return 1, nil
		}
		fmt.Println("kubeconfig:", n.Kubeconfig())
		fmt.Println("database:  ", n.DatabaseURL())
		return 0, nil
	case "load":
		if fs.NArg() < 2 {
			return 2, errors.New("usage: cluster load TAR...")
		}
		names, err := n.Load(ctx, fs.Args()[1:]...)
		for _, name := range names {
			fmt.Println(name)
		}
		if err != nil {
			return 1, err
		}
		return 0, nil
	case "down":
		if err := n.Down(ctx); err != nil {
			return 1, err
		}
		return 0, nil
	default:
		fs.Usage()
		return 2, fmt.Errorf("unknown command %q", cmd)
	}
}
