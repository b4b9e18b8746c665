-- Two B-tree pages fewer in every transaction that stores an event: with
-- AUTOINCREMENT each insert also rewrote sqlite_sequence, and event_id's
-- unique index was a second tree beside the table (IDs are made fresh per
-- event; nothing looks an event up by them here). An INTEGER PRIMARY KEY
-- is still the commit order (one writer, max + 1); a seq reused after the
-- relay emptied the table names a new row the relay has not yet read.
CREATE TABLE outbox_next (
    seq         INTEGER PRIMARY KEY,
    event_id    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    traceparent TEXT NOT NULL DEFAULT ''
);
INSERT INTO outbox_next (seq, event_id, subject, body, created_at, traceparent)
    SELECT seq, event_id, subject, body, created_at, traceparent FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
