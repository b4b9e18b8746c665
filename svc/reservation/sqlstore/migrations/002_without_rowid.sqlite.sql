-- SQLite keeps a table with a TEXT primary key as two B-trees, the rows
-- by rowid and the key in an index beside them, so every insert wrote two
-- pages; WITHOUT ROWID the rows live in the key's tree: one. (The
-- index that holds one active reservation per car is made anew.)
CREATE TABLE reservations_next (
    resrv_no    TEXT PRIMARY KEY,
    car_no      TEXT NOT NULL,
    cust_no     TEXT NOT NULL,
    paymt_no    TEXT NOT NULL,
    proc_status TEXT NOT NULL,
    rental_amt  BIGINT NOT NULL,
    resrv_dt    TEXT NOT NULL,
    rental_dt   TEXT NOT NULL,
    return_dt   TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO reservations_next (resrv_no, car_no, cust_no, paymt_no, proc_status, rental_amt, resrv_dt, rental_dt, return_dt, updated_at) SELECT resrv_no, car_no, cust_no, paymt_no, proc_status, rental_amt, resrv_dt, rental_dt, return_dt, updated_at FROM reservations;
DROP TABLE reservations;
ALTER TABLE reservations_next RENAME TO reservations;
CREATE UNIQUE INDEX one_active_reservation_per_car
    ON reservations (car_no) WHERE proc_status IN ('PENDING', 'RESERVED', 'RENTED');
