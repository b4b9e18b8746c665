package wiring

import (
	"context"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/host"
	"github.com/carrental/carrental/svc/rental"
	"github.com/carrental/carrental/svc/rental/sqlstore"
)

// RegionReloadEvery is how often rental re-reads the mounted ConfigMap.
const RegionReloadEvery = 2 * time.Second

// Rental hands cars over and back (/carRentals, /config); it reads the
// rental-region ConfigMap from env and from files under CONFIG_DIR.
func Rental() host.Spec {
	return host.Spec{
		Service:    contract.Rental,
		Migrations: sqlstore.Migrations,
		Events:     true,
		API:        rental.API(),
		Build: func(_ context.Context, d *host.Deps) (*host.Built, error) {
			dir := d.Getenv(contract.EnvConfigDir)
			if dir == "" {
				dir = contract.ConfigDir
			}
			region := rental.NewRegionConfig(dir, d.Getenv)
			active := region.Active()
			d.Log.Info("rental region", "country", active.Country.Value, "country_from", active.Country.Source,
				"region", active.Region.Value, "region_from", active.Region.Source)
			reservations := rental.NewHTTPReservations(d.HTTP, d.Config.Upstream(contract.Reservation))
			svc := rental.NewService(sqlstore.Store{DB: d.DB}, reservations, region, d.Now, d.Relay.Notify)
			return &host.Built{
				Handler: rental.MakeHandler(rental.MakeEndpoints(svc, d.Log, d.Metrics)),
				Background: []func(context.Context){func(ctx context.Context) {
					region.Watch(ctx, RegionReloadEvery, func(r rental.Region) {
						d.Log.Info("rental region changed", "country", r.Country.Value, "region", r.Region.Value)
					})
				}},
			}, nil
		},
	}
}
