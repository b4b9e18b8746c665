-- SQLite keeps a table with a TEXT primary key as two B-trees, the rows
-- by rowid and the key in an index beside them, so every insert wrote two
-- pages; WITHOUT ROWID the rows live in the key's tree: one.
CREATE TABLE cars_next (
    car_no      TEXT PRIMARY KEY,
    rental_amt  BIGINT NOT NULL,
    proc_status TEXT NOT NULL,
    car_reg_dt  TEXT NOT NULL,
    resrv_no    TEXT NOT NULL DEFAULT '',
    stage       INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO cars_next (car_no, rental_amt, proc_status, car_reg_dt, resrv_no, stage, updated_at) SELECT car_no, rental_amt, proc_status, car_reg_dt, resrv_no, stage, updated_at FROM cars;
DROP TABLE cars;
ALTER TABLE cars_next RENAME TO cars;
CREATE TABLE car_lifecycle_next (
    car_no      TEXT NOT NULL,
    resrv_no    TEXT NOT NULL,
    stage       INTEGER NOT NULL,
    PRIMARY KEY (car_no, resrv_no)
) WITHOUT ROWID;
INSERT INTO car_lifecycle_next (car_no, resrv_no, stage) SELECT car_no, resrv_no, stage FROM car_lifecycle;
DROP TABLE car_lifecycle;
ALTER TABLE car_lifecycle_next RENAME TO car_lifecycle;
