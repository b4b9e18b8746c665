package experiment

import (
	"context"
	"fmt"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// Liveness is the write-up's liveness experiment: remove one pod's liveness
// file (its `rm /tmp/healthy`, here through the admin listener), and the
// kubelet restarts that container after the probe's five failures; the pod
// is Ready again and, under steady load through the gateway all along, no
// request fails.
func (e *Env) Liveness(ctx context.Context, s contract.Service) Result {
	r := e.start("liveness", fmt.Sprintf("remove the liveness file of one %s pod under load", s))
	pods, err := e.pods(ctx, s)
	if err != nil || len(pods) == 0 {
		return r.fail(e, "no %s pod (%v)", s, err)
	}
	target := pods[0].Name
	before, err := e.restartCounts(ctx, s)
	if err != nil {
		return r.fail(e, "%v", err)
	}
	car := "live-" + e.RunID
	if _, err := e.call(ctx, "POST", "/carManagements", carBody(car)); err != nil {
		return r.fail(e, "register a car to read: %v", err)
	}
	r.logf(e, "%d pods of %s, restarts %v; steady load: GET /carManagements/%s, 4 users", len(pods), s, before, car)
	load := e.startLoad(ctx, 4, SteadyRate, "GET", "/carManagements/"+car, "")
	time.Sleep(2 * time.Second)

	start := time.Now()
	if _, err := e.admin(ctx, target, s, "POST", "/liveness/fail", ""); err != nil {
		load.stop()
		return r.fail(e, "%v", err)
	}
	r.logf(e, "t=0s     liveness file removed in %s", target)
	var restartedAt time.Duration
	err = eventually(ctx, 3*time.Minute, time.Second, func() error {
		pods, err := e.pods(ctx, s)
		if err != nil {
			return err
		}
		for _, p := range pods {
			if p.Name != target {
				continue
			}
			if restarts(p) <= before[target] {
				return fmt.Errorf("%s not restarted yet", target)
			}
			if restartedAt == 0 {
				restartedAt = time.Since(start)
				r.logf(e, "t=%-5s  kubelet restarted the container: restartCount %d -> %d", restartedAt.Round(time.Second), before[target], restarts(p))
			}
			if !ready(p) {
				return fmt.Errorf("%s restarted, not Ready yet", target)
			}
			return nil
		}
		return fmt.Errorf("%s is gone", target)
	})
	if err != nil {
		load.stop()
		return r.fail(e, "%v", err)
	}
	r.logf(e, "t=%-5s  %s Ready again", time.Since(start).Round(time.Second), target)
	time.Sleep(2 * time.Second)
	sum := load.stop()
	r.logf(e, "load: %s", figures(sum))
	after, err := e.restartCounts(ctx, s)
	if err != nil {
		return r.fail(e, "%v", err)
	}
	for pod, n := range after {
		if pod != target && n != before[pod] {
			return r.fail(e, "%s restarted too (%d -> %d)", pod, before[pod], n)
		}
	}
	if f := failed(sum); f > 0 || sum.Transactions == 0 {
		return r.fail(e, "%d of %d requests failed during the restart (%s)", f, sum.Transactions, codes(sum))
	}
	return r.pass(e, "restartCount +1 after %s, Ready again, 0 of %d requests failed", restartedAt.Round(time.Second), sum.Transactions)
}
