// Command kube-controller-manager is the upstream controller manager, built
// from the same pinned module as kube-apiserver: the test bed runs its
// garbage collector and namespace controller so deletions complete.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() { os.Exit(cli.Run(app.NewControllerManagerCommand())) }
