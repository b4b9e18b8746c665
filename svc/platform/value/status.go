package value

// The status words the services publish, in their HTTP answers and in
// their events. A service owns its word list; the others read it here
// instead of importing the owner (a context depends on the shared
// vocabulary, never on another context).

// CarStatus is a car's availability, owned by management.
type CarStatus string

const (
	CarWaiting  CarStatus = "WAITING" // available
	CarReserved CarStatus = "RESERVED"
	CarRented   CarStatus = "RENTED"
)

// PaymentStatus is a payment's state, owned by payment.
type PaymentStatus string

const (
	PaymentApproved PaymentStatus = "APPROVED"
	PaymentCanceled PaymentStatus = "CANCELED"
)
