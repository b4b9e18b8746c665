-- The read model: cars, and per car the reservation its status belongs to,
-- plus what the other services said about each reservation.
CREATE TABLE cars (
    car_no     TEXT PRIMARY KEY,
    rental_amt BIGINT NOT NULL,
    car_reg_dt TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Kept apart from cars: a reservation event may arrive before CarRegistered.
CREATE TABLE car_state (
    car_no     TEXT PRIMARY KEY,
    resrv_no   TEXT NOT NULL,
    stage      INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE car_lifecycle (
    car_no   TEXT NOT NULL,
    resrv_no TEXT NOT NULL,
    stage    INTEGER NOT NULL,
    PRIMARY KEY (car_no, resrv_no)
);

CREATE TABLE reservations (
    resrv_no  TEXT PRIMARY KEY,
    car_no    TEXT NOT NULL,
    cust_no   TEXT NOT NULL,
    paymt_no  TEXT NOT NULL,
    resrv_dt  TEXT NOT NULL,
    rental_dt TEXT NOT NULL,
    return_dt TEXT NOT NULL,
    status    TEXT NOT NULL
);

-- Keyed by reservation: a payment event can arrive before its reservation.
CREATE TABLE payments (
    resrv_no TEXT PRIMARY KEY,
    paymt_no TEXT NOT NULL,
    status   TEXT NOT NULL
);

CREATE TABLE rentals (
    resrv_no  TEXT PRIMARY KEY,
    rental_no TEXT NOT NULL,
    status    TEXT NOT NULL,
    country   TEXT NOT NULL,
    region    TEXT NOT NULL
);
