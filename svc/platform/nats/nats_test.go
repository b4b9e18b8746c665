package nats_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/nats"
	"github.com/carrental/carrental/svc/platform/nats/natstest"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// collector is a consumer handler that fails the first delivery of every
// event (to prove redelivery) and records what it applied.
type collector struct {
	mu      sync.Mutex
	seen    map[string]int
	applied []string
	ch      chan struct{}
}

func newCollector() *collector {
	return &collector{seen: map[string]int{}, ch: make(chan struct{}, 1000)}
}

func (c *collector) handle(_ context.Context, evt event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[evt.ID]++
	if c.seen[evt.ID] == 1 {
		return errors.New("first delivery fails on purpose")
	}
	c.applied = append(c.applied, evt.ID)
	c.ch <- struct{}{}
	return nil
}

func (c *collector) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("received %d of %d events", i, n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.applied...)
}

func TestOutboxToConsumer(t *testing.T) {
	for name, start := range map[string]func(testing.TB) string{
		"embedded": natstest.Embedded,
		"process":  natstest.Process,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			url := start(t)
			nc, js, err := nats.Connect(ctx, url, "test", 1)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()

			db := sqldbtest.SQLite(t, "reservation", nil)
			var ids []string
			for i := 0; i < 5; i++ {
				evt, _ := event.New("reservation", event.CarReserved, "car01", event.Reservation{CarNo: "car01"}, time.Now())
				if err := db.Tx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, evt) }); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, evt.ID)
			}
			// An event type the consumer did not ask for must not reach it.
			other, _ := event.New("payment", event.PaymentApproved, "p", event.Payment{}, time.Now())
			if err := db.Tx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, other) }); err != nil {
				t.Fatal(err)
			}
			relay := outbox.NewRelay(db, nats.Publisher{JS: js}, quiet, time.Hour)
			if n, err := relay.Flush(ctx); err != nil || n != 6 {
				t.Fatalf("flush: %d %v", n, err)
			}
			// A relay that crashed before deleting re-publishes the same IDs;
			// JetStream drops them as duplicates.
			for _, id := range ids {
				if err := (nats.Publisher{JS: js}).Publish(ctx, event.Subject("reservation", event.CarReserved), id, []byte(`{"id":"`+id+`","type":"CarReserved"}`)); err != nil {
					t.Fatal(err)
				}
			}
			stream, err := js.Stream(ctx, event.Stream)
			if err != nil {
				t.Fatal(err)
			}
			info, err := stream.Info(ctx)
			if err != nil || info.State.Msgs != 6 {
				t.Fatalf("stream holds %d messages (%v), want 6: duplicates were stored", info.State.Msgs, err)
			}

			c := newCollector()
			stop, err := nats.Consume(ctx, js, nats.Consumer{Durable: "management", Types: []event.Type{event.CarReserved}, Handle: c.handle}, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			got := c.wait(t, 5)
			for i := range ids {
				if got[i] != ids[i] {
					t.Fatalf("event %d applied out of order: %v vs %v", i, got, ids)
				}
			}
			c.mu.Lock()
			if _, ok := c.seen[other.ID]; ok {
				t.Fatal("consumer received an event type it did not subscribe to")
			}
			c.mu.Unlock()
		})
	}
}

func TestUnreadableEventDoesNotBlockTheConsumer(t *testing.T) {
	ctx := context.Background()
	nc, js, err := nats.Connect(ctx, natstest.Embedded(t), "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pub := nats.Publisher{JS: js}
	if err := pub.Publish(ctx, event.Subject("management", event.CarRegistered), "bad", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	good, _ := event.New("management", event.CarRegistered, "car01", event.Car{CarNo: "car01"}, time.Now())
	body, _ := jsonOf(good)
	if err := pub.Publish(ctx, good.Subject(), good.ID, body); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	stop, err := nats.Consume(ctx, js, nats.Consumer{Durable: "view", Types: []event.Type{event.CarRegistered}, Handle: c.handle}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := c.wait(t, 1); got[0] != good.ID {
		t.Fatalf("applied %v", got)
	}
}

func TestConsumerWorksOnOldServers(t *testing.T) {
	// Debian's nats-server 2.9 takes one filter subject per consumer; the
	// fallback must still deliver only the wanted types, in order.
	ctx := context.Background()
	nc, js, err := nats.Connect(ctx, natstest.Process(t), "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pub := nats.Publisher{JS: js}
	var want []string
	for _, typ := range []event.Type{event.CarRented, event.PaymentApproved, event.CarReturned} {
		evt, _ := event.New("rental", typ, "car01", event.Rental{CarNo: "car01"}, time.Now())
		body, _ := jsonOf(evt)
		if err := pub.Publish(ctx, evt.Subject(), evt.ID, body); err != nil {
			t.Fatal(err)
		}
		if typ != event.PaymentApproved {
			want = append(want, evt.ID)
		}
	}
	c := newCollector()
	stop, err := nats.Consume(ctx, js, nats.Consumer{Durable: "m", Types: []event.Type{event.CarRented, event.CarReturned}, Handle: c.handle}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	got := c.wait(t, 2)
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("applied %v, want %v", got, want)
	}
}

func TestEnsureStreamKeepsAnIdenticalStreamAndUpdatesAChangedOne(t *testing.T) {
	ctx := context.Background()
	nc, js, err := nats.Connect(ctx, natstest.Embedded(t), "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// An operator (or an older release) left the stream with another
	// duplicate window: the next start brings it back to ours.
	stream, err := js.Stream(ctx, event.Stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	cfg.Duplicates = time.Minute
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := nats.EnsureStream(ctx, js, 1); err != nil {
			t.Fatal(err)
		}
		info, err := js.Stream(ctx, event.Stream)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.CachedInfo().Config.Duplicates; got != nats.DuplicateWindow {
			t.Fatalf("duplicate window %v, want %v", got, nats.DuplicateWindow)
		}
	}
}

func TestServicesStartingTogetherShareOneStream(t *testing.T) {
	// Six services ensure the stream and create their consumers at the same
	// moment; under -race this is where an update of an unchanged stream
	// raced with consumer creation inside nats-server.
	ctx := context.Background()
	url := natstest.Embedded(t)
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, js, err := nats.Connect(ctx, url, "test", 1)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			stop, err := nats.Consume(ctx, js, nats.Consumer{
				Durable: "together-" + string(rune('a'+i)),
				Types:   []event.Type{event.CarRegistered},
				Handle:  func(context.Context, event.Event) error { return nil },
			}, quiet)
			if err != nil {
				errs <- err
				return
			}
			stop()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// On a JetStream cluster of three the stream and its consumers keep three
// replicas: losing one server leaves the service ready and every
// published event consumed once; losing a second (no quorum) makes it
// unready instead of silently accepting what cannot be stored.
func TestStreamOnThreeServersSurvivesOneLossAndReportsLostQuorum(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	servers := natstest.Cluster(t, 3)
	nc, js, err := nats.Connect(ctx, natstest.URLs(servers), "test", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stream, err := js.Stream(ctx, event.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info := stream.CachedInfo()
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream replicas %d, cluster %+v: want 3 (a leader and 2 followers)", info.Config.Replicas, info.Cluster)
	}
	c := newCollector()
	stop, err := nats.Consume(ctx, js, nats.Consumer{Durable: "quorum", Types: []event.Type{event.CarRegistered}, Handle: c.handle}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ready := nats.StreamAvailable(nc, js)
	publish := func() string {
		t.Helper()
		evt, _ := event.New("management", event.CarRegistered, "car01", event.Car{CarNo: "car01"}, time.Now())
		body, _ := jsonOf(evt)
		for {
			err := nats.Publisher{JS: js}.Publish(ctx, evt.Subject(), evt.ID, body)
			if err == nil {
				return evt.ID
			}
			if ctx.Err() != nil {
				t.Fatalf("publish %s: %v", evt.ID, err)
			}
			time.Sleep(100 * time.Millisecond) // a new leader is being elected
		}
	}
	before := publish()
	c.wait(t, 1)

	// Lose the stream's leader: the worst single loss.
	leader := info.Cluster.Leader
	for _, s := range servers {
		if s.Name() == leader {
			s.Shutdown()
		}
	}
	lost := time.Now()
	deadline := time.Now().Add(30 * time.Second)
	for {
		check, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ready(check)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still unready 30s after losing one server of three: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the stream's leader lost: ready %s later", time.Since(lost).Round(time.Millisecond))
	after := publish()
	if got := c.wait(t, 1); len(got) != 2 || got[0] != before || got[1] != after {
		t.Fatalf("applied %v, want [%s %s]", got, before, after)
	}
	t.Logf("the stream's leader lost: an event published and consumed %s later", time.Since(lost).Round(time.Millisecond))

	// Lose a second server: no quorum, so not ready.
	for _, s := range servers {
		if s.Name() != leader && s.Running() {
			s.Shutdown()
			break
		}
	}
	lost = time.Now()
	deadline = time.Now().Add(30 * time.Second)
	for {
		check, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ready(check)
		cancel()
		if err != nil {
			t.Logf("two of three servers lost: unready %s later: %v", time.Since(lost).Round(time.Millisecond), err)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still ready 30s after losing two servers of three")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestEnsureStreamRefusesAReplicaCountJetStreamCannotHave(t *testing.T) {
	ctx := context.Background()
	nc, js, err := nats.Connect(ctx, natstest.Embedded(t), "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, n := range []int{0, 6} {
		if err := nats.EnsureStream(ctx, js, n); err == nil {
			t.Errorf("%d replicas accepted", n)
		}
	}
}
