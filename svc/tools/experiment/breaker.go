package experiment

import (
	"context"
	"fmt"
	"time"

	"github.com/carrental/carrental/svc/tools/loadgen"
)

// Breaker is the write-up's circuit-breaker siege: `siege -c20 -t30S` of
// its car registration through the gateway. With the write-up's demo pool
// in force on management (1 connection + 1 pending: the stack's named
// setting, see the README), the excess answers 503 at once instead of
// queueing; without it every request is served. Either way, once the load
// stops the very next request succeeds.
func (e *Env) Breaker(ctx context.Context, users int, duration time.Duration, expectShedding bool) Result {
	r := e.start("breaker", fmt.Sprintf("siege -c%d -t%s POST /carManagements", users, duration))
	car := "test-" + e.RunID
	sum, err := e.siege(ctx, loadgen.Options{Concurrency: users, Duration: duration, Method: "POST", URL: "/carManagements", Body: []byte(carBody(car))})
	if err != nil {
		return r.fail(e, "%v", err)
	}
	r.logf(e, "siege: %s", figures(sum))
	shed, served := sum.StatusCodes["503"], sum.StatusCodes["200"]+sum.StatusCodes["201"]
	stop := time.Now()
	var recovery time.Duration
	err = eventually(ctx, 60*time.Second, 50*time.Millisecond, func() error {
		resp, err := e.call(ctx, "GET", "/carManagements/"+car, "")
		if err != nil {
			return err
		}
		if resp.Status != 200 {
			return fmt.Errorf("GET answered %s", resp)
		}
		recovery = time.Since(stop)
		return nil
	})
	if err != nil {
		return r.fail(e, "no recovery after the load: %v", err)
	}
	r.logf(e, "first request after the load succeeded %s after it stopped", recovery.Round(time.Millisecond))
	switch {
	case served == 0:
		return r.fail(e, "nothing served: %s", codes(sum))
	case other(sum, "200", "201", "503") > 0:
		return r.fail(e, "answers other than served or shed: %s", codes(sum))
	case expectShedding && shed == 0:
		return r.fail(e, "the write-up's pool should shed the excess with 503, none did: %s", codes(sum))
	case !expectShedding && shed > 0:
		return r.fail(e, "%d requests shed by the serving pool: %s", shed, codes(sum))
	case recovery > time.Second:
		return r.fail(e, "the first request after the load took %s to succeed", recovery.Round(time.Millisecond))
	}
	return r.pass(e, "%d served, %d shed with 503 (p50 %s), recovered %s after the load", served, shed,
		sum.P50.Round(time.Millisecond), recovery.Round(time.Millisecond))
}

// other counts answers whose status is none of ok.
func other(s loadgen.Summary, ok ...string) int {
	n := 0
	for code, count := range s.StatusCodes {
		known := false
		for _, o := range ok {
			known = known || code == o
		}
		if !known {
			n += count
		}
	}
	return n
}
