-- Events a consumer has applied, recorded in the transaction that applied
-- them, so a redelivered event is recognised and skipped.
CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
