package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
)

type flakyPublisher struct {
	mu       sync.Mutex
	failNext int
	got      []string
}

func (p *flakyPublisher) Publish(_ context.Context, _, id string, _ []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failNext > 0 {
		p.failNext--
		return errors.New("broker down")
	}
	p.got = append(p.got, id)
	return nil
}

func addEvents(t *testing.T, db *sqldb.DB, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		evt, err := event.New("management", event.CarRegistered, "car", event.CarRef{CarNo: "car"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Tx(context.Background(), func(tx *sql.Tx) error { return outbox.Add(context.Background(), tx, evt) }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, evt.ID)
	}
	return ids
}

func TestRelayPublishesInOrderAndLosesNothingWhenTheBrokerFails(t *testing.T) {
	sqldbtest.Each(t, "outbox", nil, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ids := addEvents(t, db, 250)
		pub := &flakyPublisher{failNext: 1}
		relay := outbox.NewRelay(db, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
		if n, err := relay.Flush(ctx); err == nil || n != 0 {
			t.Fatalf("first flush with the broker down: n=%d err=%v", n, err)
		}
		if left, _ := outbox.Pending(ctx, db); left != 250 {
			t.Fatalf("pending after a failed publish = %d, want 250", left)
		}
		n, err := relay.Flush(ctx)
		if err != nil || n != 250 {
			t.Fatalf("flush: n=%d err=%v", n, err)
		}
		if len(pub.got) != len(ids) {
			t.Fatalf("published %d, want %d", len(pub.got), len(ids))
		}
		for i := range ids {
			if pub.got[i] != ids[i] {
				t.Fatalf("event %d out of order", i)
			}
		}
		if left, _ := outbox.Pending(ctx, db); left != 0 {
			t.Fatalf("pending after flush = %d", left)
		}
	})
}

func TestAddIsPartOfTheTransaction(t *testing.T) {
	db := sqldbtest.SQLite(t, "outbox", nil)
	ctx := context.Background()
	evt, _ := event.New("management", event.CarRegistered, "car", event.CarRef{CarNo: "car"}, time.Now())
	_ = db.Tx(ctx, func(tx *sql.Tx) error {
		if err := outbox.Add(ctx, tx, evt); err != nil {
			t.Fatal(err)
		}
		return errors.New("the state change failed")
	})
	if left, _ := outbox.Pending(ctx, db); left != 0 {
		t.Fatalf("an event of a rolled-back transaction was kept (%d pending)", left)
	}
}

func TestRunFlushesOnShutdown(t *testing.T) {
	db := sqldbtest.SQLite(t, "outbox", nil)
	pub := &flakyPublisher{}
	relay := outbox.NewRelay(db, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx, 5*time.Second); close(done) }()
	addEvents(t, db, 3)
	cancel() // no Notify: what the first pass missed only the shutdown flush can publish
	<-done
	if left, _ := outbox.Pending(context.Background(), db); left != 0 || len(pub.got) != 3 {
		t.Fatalf("after shutdown: pending=%d published=%d", left, len(pub.got))
	}
}

func TestUpdateWithEventStoresTheEventOnlyWhenARowChanged(t *testing.T) {
	sqldbtest.Each(t, "outbox", fstest.MapFS{"001.sql": {Data: []byte(`CREATE TABLE things (id TEXT PRIMARY KEY, state TEXT NOT NULL); INSERT INTO things VALUES ('a', 'OPEN')`)}},
		func(t *testing.T, db *sqldb.DB) {
			ctx := context.Background()
			evt, _ := event.New("test", event.PaymentCanceled, "a", event.Payment{}, time.Now())
			move := func(e *event.Event) bool {
				changed, err := outbox.UpdateWithEvent(ctx, db, e, `UPDATE things SET state = $1 WHERE id = $2 AND state = $3`, "CLOSED", "a", "OPEN")
				if err != nil {
					t.Fatal(err)
				}
				return changed
			}
			if !move(&evt) {
				t.Fatal("the open thing did not move")
			}
			if move(&evt) {
				t.Fatal("a second compare-and-set changed something")
			}
			if n, _ := outbox.Pending(ctx, db); n != 1 {
				t.Fatalf("%d events stored, want 1", n)
			}
			if _, err := outbox.UpdateWithEvent(ctx, db, nil, `UPDATE things SET state = $1 WHERE id = $2`, "OPEN", "a"); err != nil {
				t.Fatal(err)
			}
			if n, _ := outbox.Pending(ctx, db); n != 1 {
				t.Fatalf("%d events after a change without one, want 1", n)
			}
		})
}

// The lag gauges follow the outbox: the oldest waiting event's age while
// the broker is down, zero once the relay caught up.
func TestCollectorReportsPendingAndTheOldestEventsAge(t *testing.T) {
	sqldbtest.Each(t, "outbox", nil, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for i, at := range []time.Time{first, first.Add(time.Minute)} {
			evt, err := event.New("management", event.CarRegistered, "car", event.CarRef{CarNo: "car"}, at)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Tx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, evt) }); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
		now := first.Add(90 * time.Second)
		reg := prometheus.NewRegistry()
		reg.MustRegister(outbox.NewCollector(contract.Management, db, func() time.Time { return now }, log))
		pending, age := contract.Metric(contract.Management, contract.MetricOutboxPending), contract.Metric(contract.Management, contract.MetricOutboxOldestAge)
		want := func(n, seconds float64) {
			t.Helper()
			got := map[string]float64{}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				got[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
			}
			if len(got) != 2 || got[pending] != n || got[age] != seconds {
				t.Fatalf("gauges %v, want %s=%v %s=%v", got, pending, n, age, seconds)
			}
		}
		want(2, 90)
		relay := outbox.NewRelay(db, &flakyPublisher{}, log, time.Hour)
		if _, err := relay.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		want(0, 0)
	})
}
