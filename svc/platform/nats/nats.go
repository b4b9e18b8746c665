// Package nats is the JetStream adapter: an embedded nats-server for local
// runs, the stream holding every event, a publisher for the outbox relay and
// durable, explicitly acknowledged consumers.
package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/telemetry"
)

// DuplicateWindow is how long JetStream remembers a message ID. A relay that
// crashed after publishing and before deleting re-publishes within seconds
// of restarting; the consumers' inbox covers anything older.
const DuplicateWindow = 10 * time.Minute

// AckWait is how long an unacknowledged event stays with one consumer
// instance before JetStream redelivers it.
const AckWait = 5 * time.Second

// StartEmbedded runs a JetStream-enabled nats-server in this process with
// its file storage under dir, listening on host:port (port -1 picks a free
// one). Shut it down with Shutdown and WaitForShutdown.
func StartEmbedded(dir, host string, port int) (*server.Server, error) {
	ns, err := server.NewServer(&server.Options{
		ServerName: "carrental-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(15 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded nats: not ready after 15s")
	}
	return ns, nil
}

// Connect dials url, retrying while the server comes up, and makes sure the
// event stream exists with the given number of replicas (1 on a single
// server, 3 or 5 on a JetStream cluster that survives losing servers).
func Connect(ctx context.Context, url, name string, replicas int) (*natsgo.Conn, jetstream.JetStream, error) {
	nc, err := natsgo.Connect(url,
		natsgo.Name(name),
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250*time.Millisecond),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("nats %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	if err := EnsureStream(ctx, js, replicas); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// EnsureStream creates the stream every event is stored in, kept on
// replicas servers, or updates it when its configuration changed (a
// stream created with one replica grows to three when the cluster does).
// The consumers inherit the stream's replica count, so they survive the
// loss of a server as the stream does.
//
// It creates first and updates only on a conflict: six services start at
// once, and a create with an identical configuration is a no-op on the
// server, while an update rewrites the stream's store configuration even when
// nothing changed, which nats-server 2.15 does without holding the lock its
// consumer creation reads it under (a data race the race detector reports).
func EnsureStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if replicas < 1 || replicas > MaxReplicas {
		return fmt.Errorf("nats: stream %s: %d replicas, want 1 to %d", event.Stream, replicas, MaxReplicas)
	}
	cfg := jetstream.StreamConfig{
		Name:       event.Stream,
		Subjects:   []string{event.SubjectPrefix + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		Duplicates: DuplicateWindow,
		Replicas:   replicas,
	}
	var err error
	for attempt := 0; attempt < 40; attempt++ {
		_, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			_, err = js.UpdateStream(ctx, cfg)
		}
		if err == nil || ctx.Err() != nil {
			break
		}
		// JetStream answers "temporarily unavailable" while it recovers its
		// store after a restart.
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("nats: stream %s: %w", event.Stream, err)
	}
	return nil
}

// MaxReplicas is JetStream's limit on a stream's replicas.
const MaxReplicas = 5

// StreamAvailable is a readiness check: the event stream has a leader and
// a quorum of its replicas is current, so what is published now is
// stored. Losing one server of three keeps the service ready (the client
// reconnects to another, the stream elects a new leader); losing two does
// not: a leader cut off from its followers still answers stream info, so
// the check counts the replicas it reports instead of trusting the answer.
func StreamAvailable(nc *natsgo.Conn, js jetstream.JetStream) func(context.Context) error {
	return func(ctx context.Context) error {
		if s := nc.Status(); s != natsgo.CONNECTED {
			return fmt.Errorf("nats connection is %s", s)
		}
		stream, err := js.Stream(ctx, event.Stream)
		if err != nil {
			return fmt.Errorf("nats: stream %s unavailable: %w", event.Stream, err)
		}
		return quorum(stream.CachedInfo())
	}
}

// quorum is nil when a majority of the stream's replicas, its leader
// among them, are reachable. Reachable, not caught up: a follower that
// lags behind a burst of publishes is still part of the quorum, and a
// check on "current" took every pod out of its Service under load (seen
// on the real node).
func quorum(info *jetstream.StreamInfo) error {
	want := info.Config.Replicas
	if want <= 1 || info.Cluster == nil {
		return nil // one server: it answered
	}
	if info.Cluster.Leader == "" {
		return fmt.Errorf("nats: stream %s has no leader", event.Stream)
	}
	up := 1
	for _, r := range info.Cluster.Replicas {
		if !r.Offline {
			up++
		}
	}
	if up < want/2+1 {
		return fmt.Errorf("nats: stream %s has %d of %d replicas reachable, no quorum", event.Stream, up, want)
	}
	return nil
}

// Publisher publishes outbox events to JetStream.
type Publisher struct{ JS jetstream.JetStream }

// Publish stores body under subject with id as the de-duplication ID, and
// ctx's trace context in the message headers (traceparent), so the
// consumers join the trace.
func (p Publisher) Publish(ctx context.Context, subject, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg := &natsgo.Msg{Subject: subject, Data: body}
	if trace.SpanContextFromContext(ctx).IsValid() {
		msg.Header = natsgo.Header{}
		telemetry.Inject(ctx, headerCarrier(msg.Header))
	}
	_, err := p.JS.PublishMsg(ctx, msg, jetstream.WithMsgID(id))
	return err
}

// headerCarrier carries trace context in NATS headers under the exact
// W3C names (NATS header keys are case-sensitive, HTTP's are not).
type headerCarrier natsgo.Header

func (h headerCarrier) Get(key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (h headerCarrier) Set(key, value string) { h[key] = []string{value} }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// Handler applies one event. Returning an error asks for redelivery.
type Handler func(ctx context.Context, evt event.Event) error

// Consumer describes a durable subscription.
type Consumer struct {
	Durable string       // one per (service, purpose); replicas share it
	Types   []event.Type // the event types to receive, from any source
	Handle  Handler
	// Tracer makes a consumer span of every delivery, a child of the
	// publish span in the message's traceparent (nil: none).
	Tracer trace.Tracer
}

// Consume starts a durable, explicitly acknowledged consumer. Events arrive
// one at a time (MaxAckPending 1), so a redelivered event is never
// overtaken by a later one. The returned stop function ends it.
func Consume(ctx context.Context, js jetstream.JetStream, c Consumer, log *slog.Logger) (stop func(), err error) {
	wanted := map[event.Type]bool{}
	subjects := make([]string, 0, len(c.Types))
	for _, t := range c.Types {
		wanted[t] = true
		subjects = append(subjects, event.SubjectPrefix+".*."+string(t))
	}
	cfg := jetstream.ConsumerConfig{
		Durable:   c.Durable,
		AckPolicy: jetstream.AckExplicitPolicy,
		// A consumer killed mid-event holds its message until AckWait runs
		// out; handlers take milliseconds, so a short wait brings a
		// restarted service back in step quickly.
		AckWait:       AckWait,
		MaxAckPending: 1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	switch {
	case len(subjects) == 1:
		cfg.FilterSubject = subjects[0]
	case !supportsMultipleFilters(js.Conn().ConnectedServerVersion()):
		// Servers before 2.10 (Debian's 2.9, for one) take a single filter:
		// receive every event and skip the unwanted ones below.
		cfg.FilterSubject = event.SubjectPrefix + ".>"
	default:
		cfg.FilterSubjects = subjects
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, event.Stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("nats: consumer %s: %w", c.Durable, err)
	}
	log = log.With("consumer", c.Durable)
	handleCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		var evt event.Event
		if err := json.Unmarshal(msg.Data(), &evt); err != nil || evt.ID == "" {
			// Redelivering a message nobody can read would block the
			// consumer forever: set it aside and say so loudly.
			log.Error("event is unreadable; terminated", "subject", msg.Subject(), "err", err)
			_ = msg.Term()
			return
		}
		if !wanted[evt.Type] {
			_ = msg.Ack()
			return
		}
		ctx, span := startConsume(handleCtx, c, msg, evt)
		defer span.End()
		if err := c.Handle(ctx, evt); err != nil {
			delay := redeliveryDelay(msg)
			span.RecordError(err)
			span.SetStatus(codes.Error, "not applied")
			log.WarnContext(ctx, "event not applied; will redeliver", "type", evt.Type, "id", evt.ID, "in", delay, "err", err)
			_ = msg.NakWithDelay(delay)
			return
		}
		if err := msg.Ack(); err != nil {
			log.WarnContext(ctx, "ack failed; the event will be redelivered and skipped by the inbox", "id", evt.ID, "err", err)
		}
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("nats: consume %s: %w", c.Durable, err)
	}
	return func() { cc.Drain(); <-cc.Closed(); cancel() }, nil
}

// startConsume starts the span of one delivery of evt to c, in the trace
// the message's headers carry.
func startConsume(ctx context.Context, c Consumer, msg jetstream.Msg, evt event.Event) (context.Context, trace.Span) {
	if c.Tracer == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	if h := msg.Headers(); len(h) > 0 {
		ctx = telemetry.Extract(ctx, headerCarrier(h))
	}
	ctx, span := c.Tracer.Start(ctx, "consume "+string(evt.Type), trace.WithSpanKind(trace.SpanKindConsumer))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("messaging.system", "nats"), attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", c.Durable), attribute.String("messaging.message.id", evt.ID))
	}
	return ctx, span
}

// supportsMultipleFilters reports whether a server of this version (e.g.
// "2.9.10") accepts several filter subjects on one consumer (2.10 and later).
func supportsMultipleFilters(version string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || (major == 2 && minor >= 10)
}

func redeliveryDelay(msg jetstream.Msg) time.Duration {
	n := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		n = md.NumDelivered
	}
	d := 100 * time.Millisecond << min(n, 8)
	return min(d, 10*time.Second)
}
