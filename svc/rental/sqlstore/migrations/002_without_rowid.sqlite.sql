-- SQLite keeps a table with a TEXT primary key as two B-trees, the rows
-- by rowid and the key in an index beside them, so every insert wrote two
-- pages; WITHOUT ROWID the rows live in the key's tree: one.
CREATE TABLE rentals_next (
    rental_no   TEXT PRIMARY KEY,
    resrv_no    TEXT NOT NULL UNIQUE,
    car_no      TEXT NOT NULL,
    cust_no     TEXT NOT NULL,
    country     TEXT NOT NULL,
    region      TEXT NOT NULL,
    proc_status TEXT NOT NULL,
    rented_at   TEXT NOT NULL,
    returned_at TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
INSERT INTO rentals_next (rental_no, resrv_no, car_no, cust_no, country, region, proc_status, rented_at, returned_at) SELECT rental_no, resrv_no, car_no, cust_no, country, region, proc_status, rented_at, returned_at FROM rentals;
DROP TABLE rentals;
ALTER TABLE rentals_next RENAME TO rentals;
