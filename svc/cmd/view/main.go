// Command view serves the read model (/carInformations).
package main

import (
	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/services"
)

func main() { app.Main(services.View()) }
