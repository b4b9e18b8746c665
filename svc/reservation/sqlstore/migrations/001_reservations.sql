CREATE TABLE reservations (
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
);

-- At most one active reservation per car. This index, not a read before
-- the write, is what stops two concurrent reservations of one car.
CREATE UNIQUE INDEX one_active_reservation_per_car
    ON reservations (car_no) WHERE proc_status IN ('PENDING', 'RESERVED', 'RENTED');
