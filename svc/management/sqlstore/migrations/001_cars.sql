CREATE TABLE cars (
    car_no      TEXT PRIMARY KEY,
    rental_amt  BIGINT NOT NULL,
    proc_status TEXT NOT NULL,
    car_reg_dt  TEXT NOT NULL,
    resrv_no    TEXT NOT NULL DEFAULT '',   -- the reservation the status belongs to
    stage       INTEGER NOT NULL DEFAULT 0, -- that reservation's stage (event.Stage*)
    updated_at  TEXT NOT NULL
);

-- Every reservation a car went through, with the furthest stage seen, so a
-- late or repeated event is recognised as stale.
CREATE TABLE car_lifecycle (
    car_no   TEXT NOT NULL,
    resrv_no TEXT NOT NULL,
    stage    INTEGER NOT NULL,
    PRIMARY KEY (car_no, resrv_no)
);
