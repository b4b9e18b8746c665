package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/sqldb"
)

// Stats are how many events wait in the outbox and since when the oldest
// of them does (zero when none does).
func Stats(ctx context.Context, db *sqldb.DB) (pending int, oldest time.Time, err error) {
	if pending, err = Pending(ctx, db); err != nil || pending == 0 {
		return pending, time.Time{}, err
	}
	var at string
	err = db.QueryRowContext(ctx, `SELECT created_at FROM outbox ORDER BY seq LIMIT 1`).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) { // relayed in between
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: oldest: %w", err)
	}
	if oldest, err = time.Parse(sqldb.TimeLayout, at); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox: oldest created_at %q: %w", at, err)
	}
	return pending, oldest, nil
}

// Collector serves the outbox's lag as contract.MetricOutboxPending and
// contract.MetricOutboxOldestAge, read from the database at each scrape:
// a relay that stopped publishing (broker down, a poisoned event) shows
// as an age that keeps growing.
type Collector struct {
	db             *sqldb.DB
	now            func() time.Time
	log            *slog.Logger
	pending, age   *prometheus.Desc
	timeoutPerRead time.Duration
}

// NewCollector reads db's outbox for service s.
func NewCollector(s contract.Service, db *sqldb.DB, now func() time.Time, log *slog.Logger) *Collector {
	return &Collector{
		db: db, now: now, log: log, timeoutPerRead: 2 * time.Second,
		pending: prometheus.NewDesc(contract.Metric(s, contract.MetricOutboxPending),
			"Committed events waiting in the outbox for the relay.", nil, nil),
		age: prometheus.NewDesc(contract.Metric(s, contract.MetricOutboxOldestAge),
			"Seconds the oldest event in the outbox has waited for the relay; 0 when none waits.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.pending; ch <- c.age }

// Collect implements prometheus.Collector. When the database cannot
// answer, both series are left out of that scrape rather than failing
// the whole scrape: /readyz already reports the database.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeoutPerRead)
	defer cancel()
	n, oldest, err := Stats(ctx, c.db)
	if err != nil {
		c.log.Warn("outbox metrics: read failed", "err", err)
		return
	}
	age := 0.0
	if n > 0 {
		age = max(c.now().Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}
