package outbox_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
)

type tracePublisher struct{ parents []trace.SpanContext }

func (p *tracePublisher) Publish(ctx context.Context, _, _ string, _ []byte) error {
	p.parents = append(p.parents, trace.SpanContextFromContext(ctx))
	return nil
}

// An event is published in the trace of the request that stored it: the
// relay's publish span is a child of the span current at outbox.Add, and
// the publisher gets that publish span in its context (to put in the
// message headers). An event stored outside any trace starts its own.
func TestRelayPublishesInTheStoringRequestsTrace(t *testing.T) {
	sqldbtest.Each(t, "outboxtrace", nil, func(t *testing.T, db *sqldb.DB) {
		exp := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
		ctx, request := tp.Tracer("test").Start(context.Background(), "POST /carReservations")
		for _, c := range []context.Context{ctx, context.Background()} {
			evt, err := event.New("reservation", event.CarReserved, "car01", event.CarRef{CarNo: "car01"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Tx(c, func(tx *sql.Tx) error { return outbox.Add(c, tx, evt) }); err != nil {
				t.Fatal(err)
			}
		}
		request.End()
		pub := &tracePublisher{}
		relay := outbox.NewRelay(db, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Hour).WithTracer(tp.Tracer("relay"))
		if n, err := relay.Flush(context.Background()); err != nil || n != 2 {
			t.Fatalf("flush: %d, %v", n, err)
		}
		var publishes []tracetest.SpanStub
		for _, s := range exp.GetSpans() {
			if s.Name == "publish "+event.Subject("reservation", event.CarReserved) {
				publishes = append(publishes, s)
			}
		}
		if len(publishes) != 2 || len(pub.parents) != 2 {
			t.Fatalf("%d publish spans, %d publishes", len(publishes), len(pub.parents))
		}
		want := request.SpanContext()
		if p := publishes[0]; p.Parent.SpanID() != want.SpanID() || p.SpanContext.TraceID() != want.TraceID() {
			t.Errorf("first publish: trace %s parent %s, want the request's %s / %s", p.SpanContext.TraceID(), p.Parent.SpanID(), want.TraceID(), want.SpanID())
		}
		if got := pub.parents[0]; got.SpanID() != publishes[0].SpanContext.SpanID() {
			t.Errorf("publisher's context holds span %s, want the publish span %s", got.SpanID(), publishes[0].SpanContext.SpanID())
		}
		if p := publishes[1]; p.Parent.IsValid() || p.SpanContext.TraceID() == want.TraceID() {
			t.Errorf("an event stored outside a trace was published in %s under %s", p.SpanContext.TraceID(), p.Parent.SpanID())
		}
	})
}
