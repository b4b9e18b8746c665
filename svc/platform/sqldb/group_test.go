package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// openQueued opens a SQLite database with a table that records the order
// of its writes.
func openQueued(t *testing.T) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, Config{Name: "group", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, fstest.MapFS{"001_log.sql": {Data: []byte(`CREATE TABLE log (seq INTEGER PRIMARY KEY, writer INTEGER NOT NULL)`)}}); err != nil {
		t.Fatal(err)
	}
	return db
}

// holdWriter starts a transaction that keeps the writer until release is
// closed, so that the writers started next queue behind it.
func holdWriter(t *testing.T, db *DB) (release func()) {
	t.Helper()
	holding, let := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Tx(context.Background(), func(tx *sql.Tx) error {
			close(holding)
			<-let
			return nil
		})
	}()
	<-holding
	return func() {
		close(let)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// queueWriters starts n writers one after the other, each queued before
// the next starts, and returns their results once all are done.
func queueWriters(t *testing.T, db *DB, n int, write func(i int) error) (wait func() []error) {
	t.Helper()
	results := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = write(i)
		}()
		deadline := time.Now().Add(10 * time.Second)
		for queued(db) != i+1 {
			if time.Now().After(deadline) {
				t.Fatalf("writer %d never queued", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return func() []error { wg.Wait(); return results }
}

func queued(db *DB) int {
	db.writes.mu.Lock()
	defer db.writes.mu.Unlock()
	return len(db.writes.waiting)
}

func insert(ctx context.Context, tx *sql.Tx, writer int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO log (writer) VALUES ($1)`, writer)
	return err
}

// writers lists who wrote, in the order their rows were written.
func writers(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT writer FROM log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var w int
		if err := rows.Scan(&w); err != nil {
			t.Fatal(err)
		}
		got = append(got, w)
	}
	return got
}

func TestQueuedWritersShareOneCommitInArrivalOrder(t *testing.T) {
	db := openQueued(t)
	ctx := context.Background()
	release := holdWriter(t, db)
	const n = 20
	wait := queueWriters(t, db, n, func(i int) error {
		if i%2 == 0 {
			_, err := db.ExecContext(ctx, `INSERT INTO log (writer) VALUES ($1)`, i)
			return err
		}
		return db.Tx(ctx, func(tx *sql.Tx) error { return insert(ctx, tx, i) })
	})
	release()
	for i, err := range wait() {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	// database/sql alone hands the connection to a random waiter.
	if got, want := writers(t, db), seq(n); !slices.Equal(got, want) {
		t.Errorf("written in the order %v, want the order they came %v", got, want)
	}
	if db.writes.commits != 1 || db.writes.writes != n {
		t.Errorf("%d writers in %d group commits of %d writes, want one commit of all", n, db.writes.commits, db.writes.writes)
	}
}

func TestAFailingWriterFailsOnlyItself(t *testing.T) {
	db := openQueued(t)
	ctx := context.Background()
	errRefused := errors.New("refused")
	release := holdWriter(t, db)
	const n, failing = 6, 3
	runs := make([]int, n)
	wait := queueWriters(t, db, n, func(i int) error {
		return db.Tx(ctx, func(tx *sql.Tx) error {
			runs[i]++
			if err := insert(ctx, tx, i); err != nil {
				return err
			}
			if i == failing {
				return errRefused
			}
			return nil
		})
	})
	release()
	for i, err := range wait() {
		switch {
		case i == failing && !errors.Is(err, errRefused):
			t.Errorf("failing writer: %v, want its own error", err)
		case i != failing && err != nil:
			t.Errorf("writer %d: %v, want its write committed", i, err)
		}
	}
	if got, want := writers(t, db), slices.Delete(seq(n), failing, failing+1); !slices.Equal(got, want) {
		t.Errorf("rows of %v, want every writer's but the failing one's, in order (%v)", got, want)
	}
	// The group was rolled back at the failure and each writer ran again
	// alone; those after the failing one had not run in the group yet.
	for i, r := range runs {
		if want := map[bool]int{true: 2, false: 1}[i <= failing]; r != want {
			t.Errorf("writer %d ran %d times, want %d", i, r, want)
		}
	}
}

func TestAWriterThatGaveUpWhileQueuedWritesNothing(t *testing.T) {
	db := openQueued(t)
	release := holdWriter(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	wait := queueWriters(t, db, 3, func(i int) error {
		c := context.Background()
		if i == 1 {
			c = ctx
		}
		return db.Tx(c, func(tx *sql.Tx) error { return insert(c, tx, i) })
	})
	cancel()
	release()
	results := wait()
	if !errors.Is(results[1], context.Canceled) {
		t.Errorf("cancelled writer: %v, want context.Canceled", results[1])
	}
	if results[0] != nil || results[2] != nil {
		t.Errorf("the others: %v, %v", results[0], results[2])
	}
	if got := writers(t, db); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("rows of %v, want [0 2]", got)
	}
}

func TestAPanicInAGroupIsRaisedOnItsOwnGoroutine(t *testing.T) {
	db := openQueued(t)
	ctx := context.Background()
	release := holdWriter(t, db)
	panics := make([]any, 3)
	wait := queueWriters(t, db, 3, func(i int) (err error) {
		defer func() { panics[i] = recover() }()
		return db.Tx(ctx, func(tx *sql.Tx) error {
			if i == 0 {
				panic("boom")
			}
			return insert(ctx, tx, i)
		})
	})
	release()
	results := wait()
	if panics[0] != "boom" || panics[1] != nil || panics[2] != nil {
		t.Errorf("panics %v, want only writer 0's, on its own goroutine", panics)
	}
	if results[1] != nil || results[2] != nil {
		t.Errorf("the others: %v, %v", results[1], results[2])
	}
	if got := writers(t, db); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("rows of %v, want [1 2]", got)
	}
}

func TestGroupsAreCapped(t *testing.T) {
	db := openQueued(t)
	ctx := context.Background()
	release := holdWriter(t, db)
	n := maxGroup + 5
	wait := queueWriters(t, db, n, func(i int) error {
		return db.Tx(ctx, func(tx *sql.Tx) error { return insert(ctx, tx, i) })
	})
	release()
	for i, err := range wait() {
		if err != nil {
			t.Fatal(fmt.Errorf("writer %d: %w", i, err))
		}
	}
	if db.writes.commits != 2 || db.writes.writes != n {
		t.Errorf("%d writers in %d commits, want 2 (groups of at most %d)", db.writes.writes, db.writes.commits, maxGroup)
	}
	if got := writers(t, db); !slices.Equal(got, seq(n)) {
		t.Errorf("order %v", got)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
