-- The W3C traceparent of the request that stored the event, so the relay's
-- publish (and the consumers after it) join that request's trace. Empty for
-- events stored with tracing off.
ALTER TABLE outbox ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';
