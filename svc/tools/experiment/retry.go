package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/tools/loadgen"
)

// Retry is the write-up's retry experiment, which answered 500 to every
// request. Phase one repeats its siege: `-c5` POSTs of one and the same
// reservation; the first books it, the rest are replays (200), none is a
// 500. Phase two makes payment fail 30% of its calls with 500 and books
// n distinct reservations: reservation retries its payment call (safe:
// the resrvNo is the Idempotency-Key), so the clients see successes, no
// 500, and no reservation is charged twice.
func (e *Env) Retry(ctx context.Context, n int) Result {
	r := e.start("retry", fmt.Sprintf("the write-up's repeated reservation, then %d reservations with payment failing 30%%", n))
	car, suffix := "car01-retry-"+e.RunID, "-retry-"+e.RunID
	if _, err := e.expect(ctx, 201, "POST", "/carManagements", carBody(car)); err != nil {
		return r.fail(e, "%v", err)
	}
	sum, err := e.siege(ctx, loadgen.Options{Concurrency: 5, Duration: 10 * time.Second, Method: "POST", URL: "/carReservations",
		Body: []byte(reservationBody("res20200801Seq0001"+suffix, car, "cus01", "pay20200801Seq0001"+suffix))})
	if err != nil {
		return r.fail(e, "%v", err)
	}
	r.logf(e, "phase 1, the write-up's siege -c5: %s", figures(sum))
	if sum.StatusCodes["201"] != 1 || other(sum, "200", "201") > 0 {
		return r.fail(e, "want one 201 and replays (200): %s", codes(sum))
	}

	payments, err := e.pods(ctx, contract.Payment)
	if err != nil || len(payments) == 0 {
		return r.fail(e, "no payment pod (%v)", err)
	}
	for _, p := range payments {
		if _, err := e.admin(ctx, p.Name, contract.Payment, "PUT", "/fault", `{"errorRate":0.3,"errorStatus":500}`); err != nil {
			return r.fail(e, "%v", err)
		}
	}
	clearFaults := func() {
		for _, p := range payments {
			_, _ = e.admin(context.WithoutCancel(ctx), p.Name, contract.Payment, "DELETE", "/fault", "")
		}
	}
	defer clearFaults()
	r.logf(e, "payment (%d pods) now answers 500 to 30%% of calls", len(payments))

	type outcome struct {
		resrvNo string
		status  int
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	for w := 0; w < 5; w++ {
		wg.Go(func() {
			for i := range next {
				carNo, resrvNo := fmt.Sprintf("car-retry-%s-%d", e.RunID, i), fmt.Sprintf("res-retry-%s-%d", e.RunID, i)
				status := 0
				if _, err := e.expect(ctx, 201, "POST", "/carManagements", carBody(carNo)); err == nil {
					if resp, err := e.call(ctx, "POST", "/carReservations", reservationBody(resrvNo, carNo, "cus01", "pay-retry-"+e.RunID+fmt.Sprint(i))); err == nil {
						status = resp.Status
					}
				}
				mu.Lock()
				outcomes = append(outcomes, outcome{resrvNo, status})
				mu.Unlock()
			}
		})
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()

	injected, calls := 0, 0
	for _, p := range payments {
		out, err := e.admin(ctx, p.Name, contract.Payment, "GET", "/fault", "")
		if err != nil {
			return r.fail(e, "%v", err)
		}
		_, body, _ := strings.Cut(out, "\n")
		var f struct {
			Counts struct{ Requests, InjectedErrors int }
		}
		if err := json.Unmarshal([]byte(body), &f); err != nil {
			return r.fail(e, "payment fault counts %q: %v", out, err)
		}
		injected, calls = injected+f.Counts.InjectedErrors, calls+f.Counts.Requests
	}
	// The charges are checked with payment healthy again: reading them
	// through the fault would fail one read in a hundred or so even
	// after the gateway's retries, which says nothing of the bookings.
	clearFaults()
	byStatus := map[int]int{}
	for _, o := range outcomes {
		byStatus[o.status]++
	}
	r.logf(e, "phase 2: %d reservations answered %v; payment saw %d calls and failed %d of them with 500", len(outcomes), byStatus, calls, injected)
	if injected == 0 {
		return r.fail(e, "no failure was injected: the experiment proved nothing")
	}
	if byStatus[500] > 0 {
		return r.fail(e, "%d reservations answered 500: the write-up's failure", byStatus[500])
	}
	// Four attempts all failing has a chance of 0.3^4 < 1%; more than 10%
	// failed would mean the retries are not happening.
	if byStatus[201] < n*9/10 {
		return r.fail(e, "only %d of %d reservations succeeded: %v", byStatus[201], n, byStatus)
	}
	for _, o := range outcomes {
		if o.status == 201 {
			if err := e.onePayment(ctx, o.resrvNo, "APPROVED"); err != nil {
				return r.fail(e, "%v", err)
			}
		}
	}
	return r.pass(e, "no 500; %d of %d reservations booked through %d injected payment failures, each charged once", byStatus[201], n, injected)
}
