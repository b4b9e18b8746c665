package clientlimit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// admission shares a fixed number of slots (requests served at once)
// fairly between clients. A request that finds a slot free takes it;
// otherwise it waits in its own client's queue, and each freed slot goes
// to the next client in turn (round-robin over the clients that wait),
// not to whoever asked first. So a client sending many requests at once
// waits mostly behind itself: every other waiting client gets a slot
// before its second one. A client's queue holds at most perClient
// requests; a request waits at most wait.
type admission struct {
	perClient int
	wait      time.Duration

	mu      sync.Mutex
	free    int               // free slots; > 0 only while nobody waits
	queues  map[string]*queue // clients with requests waiting
	ring    []*queue          // the same clients, in turn order
	nextIdx int               // whose turn the next freed slot is
}

type queue struct {
	key     string
	waiters []*waiter
}

type waiter struct {
	ready   chan struct{}
	granted bool // set under admission.mu when handed a slot
}

var (
	errQueueFull = errors.New("client queue full")
	errWaited    = errors.New("waited too long")
)

func newAdmission(slots, perClient int, wait time.Duration) *admission {
	return &admission{perClient: perClient, wait: wait, free: slots, queues: map[string]*queue{}}
}

// acquire takes a slot for key, waiting for its turn. On nil the caller
// must release. Otherwise: errQueueFull (key already has perClient
// waiting), errWaited, or ctx's error.
func (a *admission) acquire(ctx context.Context, key string) error {
	a.mu.Lock()
	if a.free > 0 {
		a.free--
		a.mu.Unlock()
		return nil
	}
	q := a.queues[key]
	if q != nil && len(q.waiters) >= a.perClient {
		a.mu.Unlock()
		return errQueueFull
	}
	if q == nil {
		q = &queue{key: key}
		a.queues[key] = q
		a.ring = append(a.ring, q)
	}
	w := &waiter{ready: make(chan struct{})}
	q.waiters = append(q.waiters, w)
	a.mu.Unlock()

	t := time.NewTimer(a.wait)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return nil
	case <-t.C:
		err = errWaited
	case <-ctx.Done():
		err = ctx.Err()
	}
	a.mu.Lock()
	if w.granted {
		// Handed a slot while giving up: pass it on.
		a.mu.Unlock()
		a.release()
		return err
	}
	a.remove(q, w)
	a.mu.Unlock()
	return err
}

// release frees a slot: to the next waiting client in turn, or back to
// the pool when nobody waits.
func (a *admission) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.ring) == 0 {
		a.free++
		return
	}
	if a.nextIdx >= len(a.ring) {
		a.nextIdx = 0
	}
	q := a.ring[a.nextIdx]
	w := q.waiters[0]
	q.waiters = q.waiters[1:]
	w.granted = true
	close(w.ready)
	if len(q.waiters) == 0 {
		a.drop(a.nextIdx) // the next client slides into this turn
	} else {
		a.nextIdx++
	}
}

// remove takes w out of q (it gave up), and q out of the ring when empty.
func (a *admission) remove(q *queue, w *waiter) {
	for i, x := range q.waiters {
		if x == w {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			break
		}
	}
	if len(q.waiters) > 0 {
		return
	}
	for i, x := range a.ring {
		if x == q {
			a.drop(i)
			if i < a.nextIdx {
				a.nextIdx--
			}
			return
		}
	}
}

func (a *admission) drop(i int) {
	delete(a.queues, a.ring[i].key)
	a.ring = append(a.ring[:i], a.ring[i+1:]...)
}

// waiting is how many requests of key wait (tests).
func (a *admission) waiting(key string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if q := a.queues[key]; q != nil {
		return len(q.waiters)
	}
	return 0
}

// queued is how many requests wait in all (tests).
func (a *admission) queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, q := range a.ring {
		n += len(q.waiters)
	}
	return n
}
