-- SQLite keeps a table with a TEXT primary key as two B-trees, the rows
-- by rowid and the key in an index beside them, so every insert wrote two
-- pages; WITHOUT ROWID the rows live in the key's tree: one.
CREATE TABLE cars_next (
    car_no      TEXT PRIMARY KEY,
    rental_amt  BIGINT NOT NULL,
    car_reg_dt  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO cars_next (car_no, rental_amt, car_reg_dt, updated_at) SELECT car_no, rental_amt, car_reg_dt, updated_at FROM cars;
DROP TABLE cars;
ALTER TABLE cars_next RENAME TO cars;
CREATE TABLE car_state_next (
    car_no      TEXT PRIMARY KEY,
    resrv_no    TEXT NOT NULL,
    stage       INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO car_state_next (car_no, resrv_no, stage, updated_at) SELECT car_no, resrv_no, stage, updated_at FROM car_state;
DROP TABLE car_state;
ALTER TABLE car_state_next RENAME TO car_state;
CREATE TABLE car_lifecycle_next (
    car_no      TEXT NOT NULL,
    resrv_no    TEXT NOT NULL,
    stage       INTEGER NOT NULL,
    PRIMARY KEY (car_no, resrv_no)
) WITHOUT ROWID;
INSERT INTO car_lifecycle_next (car_no, resrv_no, stage) SELECT car_no, resrv_no, stage FROM car_lifecycle;
DROP TABLE car_lifecycle;
ALTER TABLE car_lifecycle_next RENAME TO car_lifecycle;
CREATE TABLE reservations_next (
    resrv_no    TEXT PRIMARY KEY,
    car_no      TEXT NOT NULL,
    cust_no     TEXT NOT NULL,
    paymt_no    TEXT NOT NULL,
    resrv_dt    TEXT NOT NULL,
    rental_dt   TEXT NOT NULL,
    return_dt   TEXT NOT NULL,
    status      TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO reservations_next (resrv_no, car_no, cust_no, paymt_no, resrv_dt, rental_dt, return_dt, status) SELECT resrv_no, car_no, cust_no, paymt_no, resrv_dt, rental_dt, return_dt, status FROM reservations;
DROP TABLE reservations;
ALTER TABLE reservations_next RENAME TO reservations;
CREATE TABLE payments_next (
    resrv_no    TEXT PRIMARY KEY,
    paymt_no    TEXT NOT NULL,
    status      TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO payments_next (resrv_no, paymt_no, status) SELECT resrv_no, paymt_no, status FROM payments;
DROP TABLE payments;
ALTER TABLE payments_next RENAME TO payments;
CREATE TABLE rentals_next (
    resrv_no    TEXT PRIMARY KEY,
    rental_no   TEXT NOT NULL,
    status      TEXT NOT NULL,
    country     TEXT NOT NULL,
    region      TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO rentals_next (resrv_no, rental_no, status, country, region) SELECT resrv_no, rental_no, status, country, region FROM rentals;
DROP TABLE rentals;
ALTER TABLE rentals_next RENAME TO rentals;
