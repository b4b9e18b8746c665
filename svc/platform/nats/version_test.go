package nats

import "testing"

func TestSupportsMultipleFilters(t *testing.T) {
	for v, want := range map[string]bool{"2.9.10": false, "2.10.0": true, "2.15.2": true, "3.0.0": true, "": false, "x": false} {
		if got := supportsMultipleFilters(v); got != want {
			t.Errorf("%q: %v", v, got)
		}
	}
}
