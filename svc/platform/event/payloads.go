package event

// Payloads. Field names follow the write-up's JSON (carNo, resrvNo, ...);
// amounts are whole won, dates yyyyMMdd.

// Car is the payload of CarRegistered and CarUpdated.
type Car struct {
	CarNo      string `json:"carNo"`
	RentalAmt  int64  `json:"rentalAmt"`
	ProcStatus string `json:"procStatus"`
	CarRegDt   string `json:"carRegDt"`
}

// CarRef is the payload of CarDeleted.
type CarRef struct {
	CarNo string `json:"carNo"`
}

// Reservation is the payload of CarReserved and ReservationCanceled.
type Reservation struct {
	ResrvNo   string `json:"resrvNo"`
	CarNo     string `json:"carNo"`
	CustNo    string `json:"custNo"`
	PaymtNo   string `json:"paymtNo"`
	RentalAmt int64  `json:"rentalAmt"`
	ResrvDt   string `json:"resrvDt"`
	RentalDt  string `json:"rentalDt"`
	ReturnDt  string `json:"returnDt"`
}

// Payment is the payload of PaymentApproved and PaymentCanceled.
type Payment struct {
	PaymtNo string `json:"paymtNo"`
	ResrvNo string `json:"resrvNo"`
	CarNo   string `json:"carNo"`
	CustNo  string `json:"custNo"`
	Amount  int64  `json:"amount"`
	Status  string `json:"status"`
}

// Rental is the payload of CarRented and CarReturned.
type Rental struct {
	RentalNo   string `json:"rentalNo"`
	ResrvNo    string `json:"resrvNo"`
	CarNo      string `json:"carNo"`
	CustNo     string `json:"custNo"`
	Country    string `json:"country"`
	Region     string `json:"region"`
	RentedAt   string `json:"rentedAt"`
	ReturnedAt string `json:"returnedAt,omitempty"`
}
