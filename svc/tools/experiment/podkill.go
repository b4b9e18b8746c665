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
	var victim podRef
	var killedAt time.Time
	stream, err := e.bookDuring(ctx, "kill", duration, 0, func() error {
		pods, err := e.pods(ctx, s)
		if err != nil || len(pods) == 0 {
			return fmt.Errorf("no %s pod (%v)", s, err)
		}
		p := pods[len(pods)-1]
		victim = podRef{p.Name, restarts(p)}
		killedAt = time.Now()
		if err := e.Kill(ctx, p.Name, string(s)); err != nil {
			return fmt.Errorf("kill %s: %w", p.Name, err)
		}
		r.logf(e, "t=%-5s  killed %s (restarts %d)", (duration / 3).Round(time.Second), p.Name, victim.restarts)
		return nil
	})
	if err != nil {
		return r.fail(e, "%v", err)
	}
	r.logf(e, "stream: %s", stream)
	if len(stream.acked) == 0 {
		return r.fail(e, "nothing was acknowledged: %v", stream.counts)
	}
	err = eventually(ctx, 2*time.Minute, time.Second, func() error {
		p, err := e.Kube.CoreV1().Pods(e.Namespace).Get(ctx, victim.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if restarts(*p) <= victim.restarts || !ready(*p) {
			return fmt.Errorf("%s: restarts %d, ready %v", victim.name, restarts(*p), ready(*p))
		}
		return nil
	})
	if err != nil {
		return r.fail(e, "the killed pod did not come back: %v", err)
	}
	r.logf(e, "%s restarted and Ready %s after the kill", victim.name, time.Since(killedAt).Round(time.Second))
	// Callers stop sending to a failing service for a while (the gateway's
	// breaker: 30s, the write-up's ejection time): wait until it answers.
	err = eventually(ctx, 2*time.Minute, 500*time.Millisecond, func() error {
		_, err := e.expect(ctx, 200, "GET", "/carReservations/"+stream.acked[0].resrv, "")
		return err
	})
	if err != nil {
		return r.fail(e, "reservation does not answer through the gateway again: %v", err)
	}
	r.logf(e, "reservations answer through the gateway again %s after the kill", time.Since(killedAt).Round(time.Second))
	if err := e.verifyBooked(ctx, &r, stream.acked); err != nil {
		return r.fail(e, "%v", err)
	}
	return r.pass(e, "%d acknowledged reservations, none lost or doubled across the kill", len(stream.acked))
}

type podRef struct {
	name     string
	restarts int32
}

// booking is one car registered and reserved by a stream.
type booking struct{ car, resrv string }

// bookingStream is what a stream of bookings got back.
type bookingStream struct {
	acked  []booking
	counts map[int]int // by the reservation's status; 0: no answer or the car failed
	total  int
}

func (s bookingStream) failed() int {
	n := 0
	for status, c := range s.counts {
		if status/100 != 2 {
			n += c
		}
	}
	return n
}

func (s bookingStream) String() string {
	return fmt.Sprintf("%d bookings, answers %v, %d acknowledged", s.total, s.counts, len(s.acked))
}

// bookDuring runs four clients that each register a car and reserve it,
// over and over (rate bookings per second in all; 0: each client again as
// soon as answered); a third of duration in it calls disrupt, and the
// stream goes on until both duration is over and disrupt has returned.
func (e *Env) bookDuring(ctx context.Context, tag string, duration time.Duration, rate int, disrupt func() error) (bookingStream, error) {
	var (
		mu  sync.Mutex
		out = bookingStream{counts: map[int]int{}}
		wg  sync.WaitGroup
	)
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	disrupted := make(chan struct{})
	go func() {
		select {
		case <-time.After(duration):
		case <-streamCtx.Done():
		}
		select {
		case <-disrupted:
		case <-streamCtx.Done():
		}
		stopStream()
	}()
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for streamCtx.Err() == nil {
				if tick != nil {
					select {
					case <-tick:
					case <-streamCtx.Done():
						return
					}
				}
				mu.Lock()
				i := out.total
				out.total++
				mu.Unlock()
				b := booking{fmt.Sprintf("car-%s-%s-%d", tag, e.RunID, i), fmt.Sprintf("res-%s-%s-%d", tag, e.RunID, i)}
				status := 0
				if resp, err := e.call(ctx, "POST", "/carManagements", carBody(b.car)); err == nil && resp.Status/100 == 2 {
					if resp, err := e.call(ctx, "POST", "/carReservations", reservationBody(b.resrv, b.car, "cus01", fmt.Sprintf("pay-%s-%s-%d", tag, e.RunID, i))); err == nil {
						status = resp.Status
					}
				} else {
					time.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				out.counts[status]++
				if status/100 == 2 {
					out.acked = append(out.acked, b)
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(duration / 3)
	err := disrupt()
	close(disrupted)
	if err != nil {
		stopStream()
	}
	wg.Wait()
	return out, err
}

// verifyBooked checks every acknowledged booking: stored once, RESERVED,
// one approved payment, and the car's state (fed by events) agrees.
func (e *Env) verifyBooked(ctx context.Context, r *Result, acked []booking) error {
	start := time.Now()
	for _, b := range acked {
		resp, err := e.expect(ctx, 200, "GET", "/carReservations/"+b.resrv, "")
		if err != nil {
			return fmt.Errorf("acknowledged %s lost: %w", b.resrv, err)
		}
		var res struct{ ProcStatus string }
		if err := json.Unmarshal(resp.Body, &res); err != nil || res.ProcStatus != "RESERVED" {
			return fmt.Errorf("acknowledged %s is %s", b.resrv, resp)
		}
		if err := e.onePayment(ctx, b.resrv, "APPROVED"); err != nil {
			return err
		}
		if err := e.carIs(ctx, b.car, "RESERVED", b.resrv); err != nil {
			return fmt.Errorf("%s: %w", b.car, err)
		}
	}
	r.logf(e, "every acknowledged reservation found once, RESERVED, one payment, the view agrees (checked in %s)", time.Since(start).Round(time.Second))
	return nil
}
