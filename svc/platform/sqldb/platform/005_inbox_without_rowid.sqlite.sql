-- The inbox is only ever looked up by its key: stored WITHOUT ROWID it is
-- one B-tree, not a table and an index, so recording an event writes one
-- page fewer.
CREATE TABLE inbox_next (
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
INSERT INTO inbox_next (consumer, event_id, applied_at) SELECT consumer, event_id, applied_at FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_next RENAME TO inbox;
