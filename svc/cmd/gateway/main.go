// Command gateway is the single entry point on :8080.
package main

import (
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/wiring"
)

func main() { host.Main(wiring.Gateway()) }
