// Package outbox implements the transactional outbox: a service stores each
// event in the transaction that changes its state (Add), and a Relay
// publishes stored events to the broker in order, deleting each one only
// after the broker acknowledged it. A crash between the two re-publishes the
// event under the same ID, which JetStream's duplicate window and the
// consumers' inbox absorb.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/telemetry"
)

// Add stores evt in the outbox as part of tx, with ctx's traceparent: the
// relay publishes it in the trace of the request that caused it.
func Add(ctx context.Context, tx *sql.Tx, evt event.Event) error {
	body, err := json.Marshal(evt)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO outbox (event_id, subject, body, created_at, traceparent) VALUES ($1, $2, $3, $4, $5)`,
		evt.ID, evt.Subject(), string(body), evt.OccurredAt.UTC().Format(sqldb.TimeLayout), telemetry.TraceParent(ctx))
	if err != nil {
		return fmt.Errorf("outbox: add %s: %w", evt.Type, err)
	}
	return nil
}

// Publisher delivers one event to the broker and returns once the broker has
// stored it. The event ID must be used for de-duplication.
type Publisher interface {
	Publish(ctx context.Context, subject, id string, body []byte) error
}

// Relay moves events from a database's outbox to a Publisher.
type Relay struct {
	db       *sqldb.DB
	pub      Publisher
	log      *slog.Logger
	interval time.Duration
	batch    int
	wake     chan struct{}
	tracer   trace.Tracer
}

// NewRelay returns a relay polling every interval and whenever Notify is
// called.
func NewRelay(db *sqldb.DB, pub Publisher, log *slog.Logger, interval time.Duration) *Relay {
	return &Relay{db: db, pub: pub, log: log, interval: interval, batch: 100, wake: make(chan struct{}, 1),
		tracer: noop.NewTracerProvider().Tracer("")}
}

// WithTracer makes a producer span of every publish, a child of the span
// that stored the event.
func (r *Relay) WithTracer(t trace.Tracer) *Relay {
	r.tracer = t
	return r
}

// Notify wakes the relay; call it after committing a transaction that added
// events so they go out without waiting for the next poll.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx is done, then makes one last attempt to flush what is
// left (bounded by drain) so a graceful shutdown leaves the outbox empty.
func (r *Relay) Run(ctx context.Context, drain time.Duration) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		if _, err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("outbox relay: publish failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
			n, err := r.Flush(flushCtx)
			cancel()
			if err != nil {
				r.log.Warn("outbox relay: events left for the next start", "err", err)
			} else {
				r.log.Info("outbox relay stopped", "flushed", n)
			}
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// Flush publishes every stored event in order and returns how many went out.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := r.publishBatch(ctx)
		total += n
		if err != nil || n < r.batch {
			return total, err
		}
	}
}

type pending struct {
	seq         int64
	id, subject string
	body        string
	traceparent string
}

func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	rows, err := r.db.QueryContext(ctx,
		`SELECT seq, event_id, subject, body, traceparent FROM outbox ORDER BY seq LIMIT $1`, r.batch)
	if err != nil {
		return 0, fmt.Errorf("outbox: read: %w", err)
	}
	var batch []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.id, &p.subject, &p.body, &p.traceparent); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox: read: %w", err)
		}
		batch = append(batch, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox: read: %w", err)
	}
	published := 0
	var pubErr error
	for _, p := range batch {
		// One at a time and in order: a consumer sees a service's events in
		// the order the service committed them.
		if pubErr = r.publish(ctx, p); pubErr != nil {
			pubErr = fmt.Errorf("outbox: publish %s: %w", p.id, pubErr)
			break
		}
		published++
	}
	// One delete for what went out, by exact seq: a row that commits late
	// with a lower seq (PostgreSQL's sequences) is never swept away unsent.
	if err := r.forget(ctx, batch[:published]); err != nil {
		return 0, err
	}
	return published, pubErr
}

// publish sends p in the trace it was stored in.
func (r *Relay) publish(ctx context.Context, p pending) error {
	ctx, span := r.tracer.Start(telemetry.WithTraceParent(ctx, p.traceparent), "publish "+p.subject,
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
			attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", p.subject),
			attribute.String("messaging.message.id", p.id)))
	defer span.End()
	err := r.pub.Publish(ctx, p.subject, p.id, []byte(p.body))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "not published")
	}
	return err
}

// forget deletes relayed events. Deleting fewer than were relayed is
// harmless: the next flush publishes them again under the same IDs, which
// JetStream's duplicate window and the consumers' inbox absorb.
func (r *Relay) forget(ctx context.Context, done []pending) error {
	if len(done) == 0 {
		return nil
	}
	marks := make([]string, len(done))
	args := make([]any, len(done))
	for i, p := range done {
		marks[i] = fmt.Sprintf("$%d", i+1)
		args[i] = p.seq
	}
	if _, err := r.db.ExecContext(ctx, `DELETE FROM outbox WHERE seq IN (`+strings.Join(marks, ", ")+`)`, args...); err != nil {
		return fmt.Errorf("outbox: delete %d relayed events: %w", len(done), err)
	}
	return nil
}

// Pending counts the events not yet relayed.
func Pending(ctx context.Context, db *sqldb.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// UpdateWithEvent runs a compare-and-set statement in a transaction and,
// only when it changed a row, stores evt (nil: no event) with it. It
// reports whether a row changed: matching nothing means another call made
// the same change first, and that call's event is already stored.
func UpdateWithEvent(ctx context.Context, db *sqldb.DB, evt *event.Event, query string, args ...any) (bool, error) {
	changed := false
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		changed = false // a second run starts over (sqldb.DB.Tx)
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("rows affected: %w", err)
		}
		if n == 0 {
			return nil
		}
		changed = true
		if evt == nil {
			return nil
		}
		return Add(ctx, tx, *evt)
	})
	return changed, err
}

// InsertWithEvent runs an INSERT and stores evt with it in one
// transaction. A unique violation is duplicate: the row exists already.
func InsertWithEvent(ctx context.Context, db *sqldb.DB, evt event.Event, duplicate error, query string, args ...any) error {
	return db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		if sqldb.IsUniqueViolation(err) {
			return duplicate
		}
		if err != nil {
			return fmt.Errorf("insert for %s: %w", evt.Type, err)
		}
		return Add(ctx, tx, evt)
	})
}
