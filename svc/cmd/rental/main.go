// Command rental hands reserved cars over and takes them back (/carRentals).
package main

import (
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/wiring"
)

func main() { host.Main(wiring.Rental()) }
