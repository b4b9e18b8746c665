CREATE TABLE rentals (
    rental_no   TEXT PRIMARY KEY,
    resrv_no    TEXT NOT NULL UNIQUE, -- one rental per reservation
    car_no      TEXT NOT NULL,
    cust_no     TEXT NOT NULL,
    country     TEXT NOT NULL,
    region      TEXT NOT NULL,
    proc_status TEXT NOT NULL,
    rented_at   TEXT NOT NULL,
    returned_at TEXT NOT NULL DEFAULT ''
);
