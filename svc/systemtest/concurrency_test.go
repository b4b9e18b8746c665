package systemtest

import (
	"fmt"
	"sync"
	"testing"
)

// Twenty clients post the same create at once: exactly one learns it
// created the thing (201), the others that it already exists (200); the
// data holds one of it. The pool limit is off so that every request
// reaches the services (the write-up's demo pool would shed most of them).
func TestExactlyOneCreatedPerKeyUnderConcurrency(t *testing.T) {
	sys := startLocal(t, map[string]string{"RESILIENCE_MANAGEMENT_MAX_CONCURRENT": "0"})
	gw := staffAPI(t, sys)
	gw.expect(201, "POST", "/carManagements", carCar01)

	for _, c := range []struct {
		what, path, body string
	}{
		{"car", "/carManagements", carCar02},
		{"reservation", "/carReservations", reservation("resConc01", "car01", "payConc01")},
	} {
		statuses := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				r := gw.call("POST", c.path, c.body)
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if statuses[201] != 1 || statuses[200] != 19 {
			t.Errorf("%s: 20 concurrent creates answered %v, want one 201 and nineteen 200", c.what, statuses)
		}
	}
	var payments []map[string]any
	gw.expect(200, "GET", "/payments?resrvNo=resConc01", "").JSON(t, &payments)
	if len(payments) != 1 {
		t.Fatalf("%d payments for one reservation: %v", len(payments), payments)
	}
	var cars []map[string]any
	gw.expect(200, "GET", "/carManagements", "").JSON(t, &cars)
	if n := len(cars); n != 2 {
		t.Fatalf("%d cars, want 2: %s", n, fmt.Sprint(cars))
	}
}
