-- SQLite keeps a table with a TEXT primary key as two B-trees, the rows
-- by rowid and the key in an index beside them, so every insert wrote two
-- pages; WITHOUT ROWID the rows live in the key's tree: one.
CREATE TABLE payments_next (
    paymt_no    TEXT PRIMARY KEY,
    resrv_no    TEXT NOT NULL UNIQUE,
    idem_key    TEXT NOT NULL UNIQUE,
    car_no      TEXT NOT NULL,
    cust_no     TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO payments_next (paymt_no, resrv_no, idem_key, car_no, cust_no, amount, status, created_at, updated_at) SELECT paymt_no, resrv_no, idem_key, car_no, cust_no, amount, status, created_at, updated_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_next RENAME TO payments;
