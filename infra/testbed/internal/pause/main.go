// Command pause is the pod sandbox's process, built into the node's pause
// image (testbed.PauseImageSpec) instead of pulling registry.k8s.io/pause.
// It holds the pod's namespaces open and does nothing else: it exits 0 on
// SIGTERM or SIGINT (how the runtime stops a sandbox), and, being PID 1 of
// the pod when the pod shares its process namespace, reaps the orphans the
// kernel hands it so they do not pile up as zombies.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (carrental)")
		return
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Several children may have exited behind one SIGCHLD.
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
