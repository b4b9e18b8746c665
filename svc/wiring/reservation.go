package wiring

import (
	"context"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/reservation"
	"github.com/carrental/carrental/svc/reservation/sqlstore"
)

// Reservation books cars (/carReservations): it calls management and
// payment synchronously and publishes CarReserved and ReservationCanceled.
func Reservation() host.Spec {
	return host.Spec{
		Service:    contract.Reservation,
		Migrations: sqlstore.Migrations,
		Events:     true,
		API:        reservation.API(),
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			cars := reservation.NewHTTPCars(d.HTTP, d.Config.Upstream(contract.Management))
			payments := reservation.NewHTTPPayments(d.HTTP, d.Config.Upstream(contract.Payment))
			svc := reservation.NewService(sqlstore.Store{DB: d.DB}, cars, payments, d.Now, d.Relay.Notify, d.Log)
			return &host.Built{Handler: reservation.MakeHandler(reservation.MakeEndpoints(svc, d.Log, d.Metrics))}, nil
		},
	}
}
