-- Each of paymt_no, resrv_no and idem_key identifies at most one charge:
-- the unique constraints, not a read-then-write, keep a reservation from
-- being charged twice under concurrency.
CREATE TABLE payments (
    paymt_no   TEXT PRIMARY KEY,
    resrv_no   TEXT NOT NULL UNIQUE,
    idem_key   TEXT NOT NULL UNIQUE,
    car_no     TEXT NOT NULL,
    cust_no    TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
