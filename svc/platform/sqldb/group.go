package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// writeQueue is group commit for SQLite's one writer connection. Writers
// queue in the order they came; the writer at the head takes everyone
// queued behind it (up to maxGroup) and runs their work in one
// transaction, so a burst of concurrent writes pays one BEGIN and one
// COMMIT (and writes a page they share into the WAL once) instead of one
// each. Every writer is answered only after the commit that holds its
// work, so an acknowledged write is as durable as before.
//
// database/sql alone would hand the connection to a random waiter each
// time, so under load one writer could lose round after round to later
// ones: the queue also keeps the order.
type writeQueue struct {
	db      *sql.DB // the one writer connection
	mu      sync.Mutex
	busy    bool            // a leader is writing
	waiting []*pendingWrite // in arrival order

	// commits and writes count the transactions committed by groups and
	// the writes in them (tests read them).
	commits, writes int
}

// maxGroup caps a group: a longer transaction holds everyone after it.
const maxGroup = 32

type pendingWrite struct {
	ctx context.Context
	// fn is the work in a transaction shared with the rest of a group.
	fn func(tx *sql.Tx) error
	// alone does the same work in a transaction of its own.
	alone func() error
	done  chan error // the result, or errYourTurn (made by write)
}

// errYourTurn tells a waiting writer it heads the queue now.
var errYourTurn = errors.New("sqldb: your turn to write")

// write runs w in its turn and returns its result.
func (q *writeQueue) write(w *pendingWrite) error {
	w.done = make(chan error, 1)
	q.mu.Lock()
	if q.busy {
		q.waiting = append(q.waiting, w)
		q.mu.Unlock()
		if err := <-w.done; !errors.Is(err, errYourTurn) {
			return rethrow(err)
		}
		q.mu.Lock()
	}
	q.busy = true
	n := min(len(q.waiting), maxGroup-1)
	group := make([]*pendingWrite, 0, n+1)
	group = append(append(group, w), q.waiting[:n]...)
	// Cleared, so that the queue's array keeps no answered writer alive.
	clear(q.waiting[:n])
	q.waiting = q.waiting[n:]
	q.mu.Unlock()

	q.commit(group)

	q.mu.Lock()
	if len(q.waiting) > 0 {
		next := q.waiting[0]
		q.waiting[0] = nil
		q.waiting = q.waiting[1:]
		next.done <- errYourTurn
	} else {
		q.busy = false
	}
	q.mu.Unlock()
	return rethrow(<-w.done)
}

// commit runs a group and answers each of its writers. A writer whose
// context ended while it waited is answered without running. When any
// work fails, the group's transaction is rolled back and every writer's
// work runs again alone, in order, so one writer's error is never
// another's: fn may therefore run twice, the first run rolled back.
func (q *writeQueue) commit(group []*pendingWrite) {
	live := group[:0]
	for _, w := range group {
		if err := w.ctx.Err(); err != nil {
			w.done <- fmt.Errorf("begin: %w", err)
			continue
		}
		live = append(live, w)
	}
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].done <- guard(live[0].alone)
		return
	}
	if err := q.commitTogether(live); err != nil {
		for _, w := range live {
			w.done <- guard(w.alone)
		}
		return
	}
	q.mu.Lock()
	q.commits++
	q.writes += len(live)
	q.mu.Unlock()
	for _, w := range live {
		w.done <- nil
	}
}

// commitTogether runs every writer's work in one transaction. It returns
// an error when the group must fall back to one transaction each.
func (q *writeQueue) commitTogether(group []*pendingWrite) error {
	// The group's transaction outlives any one writer's context: a
	// writer that hangs up must not roll back the others' work.
	tx, err := q.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	for _, w := range group {
		if err := guard(func() error { return w.fn(tx) }); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// panicked carries a panic out of work run on another writer's goroutine,
// to be raised again on its own.
type panicked struct{ value any }

func (p panicked) Error() string { return fmt.Sprint("sqldb: write panicked: ", p.value) }

func guard(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v}
		}
	}()
	return f()
}

func rethrow(err error) error {
	if p, ok := err.(panicked); ok {
		panic(p.value)
	}
	return err
}
