// Command gateway is the single entry point on :8080.
package main

import (
	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/services"
)

func main() { app.Main(services.Gateway()) }
