// Package event defines the events the services exchange over JetStream: one
// envelope and one payload type per event. Producers write them to their
// outbox in the transaction that changes their state; consumers apply each
// one at most once (see package inbox).
package event

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// Type names an event.
type Type string

// The events of the rental story.
const (
	CarRegistered       Type = "CarRegistered"
	CarUpdated          Type = "CarUpdated"
	CarDeleted          Type = "CarDeleted"
	CarReserved         Type = "CarReserved"
	ReservationCanceled Type = "ReservationCanceled"
	PaymentApproved     Type = "PaymentApproved"
	PaymentCanceled     Type = "PaymentCanceled"
	CarRented           Type = "CarRented"
	CarReturned         Type = "CarReturned"
)

// Stream is the JetStream stream holding every event; SubjectPrefix + ".>"
// are its subjects.
const (
	Stream        = "CARRENTAL"
	SubjectPrefix = "carrental"
)

// Event is the envelope every event travels in.
type Event struct {
	ID         string           `json:"id"`     // unique; the JetStream message ID and the inbox key
	Type       Type             `json:"type"`   // what happened
	Source     contract.Service `json:"source"` // the service that owns the change
	Key        string           `json:"key"`    // the aggregate it concerns, e.g. the carNo
	OccurredAt time.Time        `json:"occurredAt"`
	Data       json.RawMessage  `json:"data"`
}

// Subject is where the event is published: carrental.<source>.<type>.
func (e Event) Subject() string { return Subject(e.Source, e.Type) }

// Subject builds the subject of an event type from a source.
func Subject(source contract.Service, t Type) string {
	return SubjectPrefix + "." + string(source) + "." + string(t)
}

// New builds an event with a fresh ID around payload.
func New(source contract.Service, t Type, key string, payload any, now time.Time) (Event, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", t, err)
	}
	return Event{ID: NewID(), Type: t, Source: source, Key: key, OccurredAt: now.UTC(), Data: data}, nil
}

// Decode unmarshals the payload into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event %s %s: payload: %w", e.Type, e.ID, err)
	}
	return nil
}

// NewID returns a 128-bit identifier in hex: 48 bits of Unix milliseconds,
// then 80 random bits (UUIDv7's layout, without its version bits). Random
// IDs put every consumer's inbox row, and so its commit, on a different
// B-tree page; time-ordered ones append to the last page, which a commit
// and a checkpoint then write once for many events. Only the random tail
// is unique on its own: use RandomSuffix where a short unique name is due.
func NewID() string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}

// RandomSuffix returns n (at most 20) random hex digits, for names that
// must not clash with another run's.
func RandomSuffix(n int) string {
	id := NewID()
	return id[len(id)-min(n, 20):]
}
