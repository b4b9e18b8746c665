// Command payment approves and cancels payments (/payments).
package main

import (
	"github.com/carrental/carrental/svc/app"
	"github.com/carrental/carrental/svc/services"
)

func main() { app.Main(services.Payment()) }
