// Command view serves the read model (/carInformations).
package main

import (
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/wiring"
)

func main() { host.Main(wiring.View()) }
