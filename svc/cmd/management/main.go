// Command management serves the fleet (/carManagements).
package main

import (
	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/services"
)

func main() { app.Main(services.Management()) }
