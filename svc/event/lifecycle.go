package event

// A car's life is a sequence of reservations, each going through stages.
// Events of one reservation come from different services (reservation,
// rental), so they can arrive out of order; consumers compare stages
// instead of trusting arrival order.
const (
	StageNone     = 0
	StageReserved = 1 // CarReserved
	StageRented   = 2 // CarRented
	StageFinished = 3 // CarReturned or ReservationCanceled
)

// StageOf is the lifecycle stage an event moves its reservation to, or
// StageNone for events outside the lifecycle.
func StageOf(t Type) int {
	switch t {
	case CarReserved:
		return StageReserved
	case CarRented:
		return StageRented
	case CarReturned, ReservationCanceled:
		return StageFinished
	}
	return StageNone
}

// Decision is what a consumer does with a lifecycle event.
type Decision int

const (
	Apply  Decision = iota // move the car to the event's stage
	Ignore                 // a duplicate or a stale event: nothing to do
	Wait                   // the car's current reservation has not finished yet: redeliver later
)

// Decide places an event of reservation resrvNo at stage against a car whose
// current reservation is cur at curStage. known is the stage already
// recorded for resrvNo on this car (StageNone if never seen).
//
// A new reservation of a car can only exist after the previous one
// finished, but its CarReserved may overtake the previous CarReturned
// (they come from different services). Such an event waits for its
// predecessor instead of being dropped.
func Decide(cur string, curStage int, resrvNo string, known, stage int) Decision {
	switch {
	case stage == StageNone || stage <= known:
		return Ignore
	case resrvNo == cur || cur == "" || curStage >= StageFinished:
		return Apply
	default:
		return Wait
	}
}
