// Command rental hands reserved cars over and takes them back (/carRentals).
package main

import (
	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/services"
)

func main() { app.Main(services.Rental()) }
