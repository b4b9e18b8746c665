package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carrental/carrental/svc/contract"
)

// PodKill books a stream of reservations through the gateway and kills a
// reservation pod abruptly in the middle (kill -9; see Env.Kill). Some
// requests fail while it is down; none that was acknowledged (2xx) may be
// lost or doubled: each is stored once, RESERVED, with exactly one
// approved payment, and the read model converges on it.
func (e *Env) PodKill(ctx context.Context, s contract.Service, duration time.Duration) Result {
	r := e.start("podkill", fmt.Sprintf("kill -9 a %s pod during %s of reservations", s, duration))
	type booking struct{ car, resrv string }
	var (
		mu     sync.Mutex
		acked  []booking
		counts = map[int]int{}
		seq    int
		wg     sync.WaitGroup
	)
	streamCtx, stopStream := context.WithTimeout(ctx, duration)
	defer stopStream()
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for streamCtx.Err() == nil {
				mu.Lock()
				i := seq
				seq++
				mu.Unlock()
				b := booking{fmt.Sprintf("car-kill-%s-%d", e.RunID, i), fmt.Sprintf("res-kill-%s-%d", e.RunID, i)}
				status := 0
				if resp, err := e.call(ctx, "POST", "/carManagements", carBody(b.car)); err == nil && resp.Status/100 == 2 {
					if resp, err := e.call(ctx, "POST", "/carReservations", reservationBody(b.resrv, b.car, "cus01", "pay-kill-"+e.RunID+fmt.Sprint(i))); err == nil {
						status = resp.Status
					}
				} else {
					time.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				counts[status]++
				if status/100 == 2 {
					acked = append(acked, b)
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(duration / 3)
	pods, err := e.pods(ctx, s)
	if err != nil || len(pods) == 0 {
		stopStream()
		wg.Wait()
		return r.fail(e, "no %s pod (%v)", s, err)
	}
	victim := pods[len(pods)-1]
	killedAt := time.Now()
	if err := e.Kill(ctx, victim.Name, string(s)); err != nil {
		stopStream()
		wg.Wait()
		return r.fail(e, "kill %s: %v", victim.Name, err)
	}
	r.logf(e, "t=%-5s  killed %s (restarts %d)", (duration / 3).Round(time.Second), victim.Name, restarts(victim))
	wg.Wait()
	r.logf(e, "stream: %d requests, answers %v, %d acknowledged", seq, counts, len(acked))
	if len(acked) == 0 {
		return r.fail(e, "nothing was acknowledged: %v", counts)
	}
	err = eventually(ctx, 2*time.Minute, time.Second, func() error {
		p, err := e.Kube.CoreV1().Pods(e.Namespace).Get(ctx, victim.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if restarts(*p) <= restarts(victim) || !ready(*p) {
			return fmt.Errorf("%s: restarts %d, ready %v", victim.Name, restarts(*p), ready(*p))
		}
		return nil
	})
	if err != nil {
		return r.fail(e, "the killed pod did not come back: %v", err)
	}
	r.logf(e, "%s restarted and Ready %s after the kill", victim.Name, time.Since(killedAt).Round(time.Second))
	// Callers stop sending to a failing service for a while (the gateway's
	// breaker: 30s, the write-up's ejection time): wait until it answers.
	err = eventually(ctx, 2*time.Minute, 500*time.Millisecond, func() error {
		_, err := e.expect(ctx, 200, "GET", "/carReservations/"+acked[0].resrv, "")
		return err
	})
	if err != nil {
		return r.fail(e, "reservation does not answer through the gateway again: %v", err)
	}
	r.logf(e, "reservations answer through the gateway again %s after the kill", time.Since(killedAt).Round(time.Second))
	start := time.Now()
	for _, b := range acked {
		resp, err := e.expect(ctx, 200, "GET", "/carReservations/"+b.resrv, "")
		if err != nil {
			return r.fail(e, "acknowledged %s lost: %v", b.resrv, err)
		}
		var res struct{ ProcStatus string }
		if err := json.Unmarshal(resp.Body, &res); err != nil || res.ProcStatus != "RESERVED" {
			return r.fail(e, "acknowledged %s is %s", b.resrv, resp)
		}
		if err := e.onePayment(ctx, b.resrv, "APPROVED"); err != nil {
			return r.fail(e, "%v", err)
		}
		if err := e.carIs(ctx, b.car, "RESERVED", b.resrv); err != nil {
			return r.fail(e, "%s: %v", b.car, err)
		}
	}
	r.logf(e, "every acknowledged reservation found once, RESERVED, one payment, the view agrees (checked in %s)", time.Since(start).Round(time.Second))
	return r.pass(e, "%d acknowledged reservations, none lost or doubled across the kill", len(acked))
}
