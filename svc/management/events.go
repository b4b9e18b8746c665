package management

import (
	"context"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/lifecycle"
)

// EventHandler applies reservation and rental events to the fleet.
type EventHandler struct{ Repo Repository }

// Handle applies one lifecycle event. An event that must wait for its
// predecessor returns an error so JetStream redelivers it later.
func (h EventHandler) Handle(ctx context.Context, evt event.Event) error {
	step, err := lifecycle.StepOf(evt)
	if err != nil {
		return err
	}
	return h.Repo.ApplyLifecycle(ctx, evt, step)
}
