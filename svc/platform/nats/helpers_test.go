package nats_test

import (
	"encoding/json"

	"github.com/carrental/carrental/svc/platform/event"
)

func jsonOf(e event.Event) ([]byte, error) { return json.Marshal(e) }
