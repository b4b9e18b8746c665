// Command reservation books cars (/carReservations).
package main

import (
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/wiring"
)

func main() { host.Main(wiring.Reservation()) }
