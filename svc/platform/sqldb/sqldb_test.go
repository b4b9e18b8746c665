package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
)

var migrations = fstest.MapFS{
	"001_cars.sql":            {Data: []byte(`CREATE TABLE cars (car_no TEXT PRIMARY KEY, amount BIGINT NOT NULL)`)},
	"002_engine.sqlite.sql":   {Data: []byte(`CREATE TABLE engine (name TEXT); INSERT INTO engine VALUES ('sqlite')`)},
	"002_engine.postgres.sql": {Data: []byte(`CREATE TABLE engine (name TEXT); INSERT INTO engine VALUES ('postgres')`)},
}

func TestMigrateAndQueryOnBothEngines(t *testing.T) {
	sqldbtest.Each(t, "sqldb", migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var engine string
		if err := db.QueryRowContext(ctx, `SELECT name FROM engine`).Scan(&engine); err != nil {
			t.Fatal(err)
		}
		if engine != string(db.Dialect) {
			t.Fatalf("engine-specific migration: got %q on %s", engine, db.Dialect)
		}
		// A second Migrate applies nothing twice.
		if err := db.Migrate(ctx, migrations); err != nil {
			t.Fatal(err)
		}
		var rows int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM engine`).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("engine rows = %d, %v", rows, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ($1, $2)`, "car01", 10000); err != nil {
			t.Fatal(err)
		}
		_, err := db.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ($1, $2)`, "car01", 1)
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("duplicate key: %v is not a unique violation", err)
		}
	})
}

func TestTxRollsBackOnError(t *testing.T) {
	sqldbtest.Each(t, "sqldb", migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ('a', 1)`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ('a', 2)`)
			return err
		})
		if err == nil {
			t.Fatal("want the duplicate to fail the transaction")
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cars`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("partial write: %d rows (%v)", n, err)
		}
	})
}

func TestBrokenMigrationLeavesNothing(t *testing.T) {
	broken := fstest.MapFS{
		"001_ok.sql":     {Data: []byte(`CREATE TABLE ok (x TEXT)`)},
		"002_broken.sql": {Data: []byte(`CREATE TABLE broken (`)},
	}
	db := sqldbtest.SQLite(t, "x", nil)
	err := db.Migrate(context.Background(), broken)
	if err == nil || !strings.Contains(err.Error(), "002_broken") {
		t.Fatalf("error %v does not name the broken migration", err)
	}
	if _, err := db.ExecContext(context.Background(), `SELECT * FROM ok`); err == nil {
		t.Fatal("the first migration of a failed run was kept")
	}
}

func TestOpenRejectsBadSchemaName(t *testing.T) {
	_, err := sqldb.Open(context.Background(), sqldb.Config{Name: "x", DatabaseURL: sqldbtest.PostgresDSN(), Schema: `a"; DROP`})
	if err == nil || !strings.Contains(err.Error(), "identifier") {
		t.Fatalf("err = %v", err)
	}
}

// SQLite reads go to a pool of readers beside the one writer; a read right
// after a commit sees it, and a read waits behind no write.
func TestSQLiteReadersSeeCommittedWrites(t *testing.T) {
	for _, sync := range []sqldb.Sync{"", sqldb.SyncNormal, sqldb.SyncFull} {
		db, err := sqldb.Open(context.Background(), sqldb.Config{Name: "rw", DataDir: t.TempDir(), Sync: sync})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := db.Migrate(ctx, migrations); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if err := db.Tx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ($1, $2)`, fmt.Sprintf("car%02d", i), i)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cars`).Scan(&n); err != nil || n != i+1 {
				t.Fatalf("sync %q: after %d commits a reader counts %d (%v)", sync, i+1, n, err)
			}
		}
		// A long write transaction does not hold readers up.
		hold, release := make(chan struct{}), make(chan struct{})
		go db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO cars (car_no, amount) VALUES ('held', 1)`)
			close(hold)
			<-release
			return err
		})
		<-hold
		var n int
		err = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cars`).Scan(&n)
		close(release)
		if err != nil || n != 50 {
			t.Fatalf("read during a write: %d (%v)", n, err)
		}
		db.Close()
	}
	if _, err := sqldb.Open(context.Background(), sqldb.Config{Name: "rw", DataDir: t.TempDir(), Sync: "sometimes"}); err == nil {
		t.Fatal("accepted synchronous sometimes")
	}
}

// After a burst the PostgreSQL pool keeps its connections for the next
// one: closing all but two (database/sql's default) made every burst dial
// again, which tripled the reservations' latency on the bench.
func TestPostgresPoolKeepsItsConnectionsAfterABurst(t *testing.T) {
	db := sqldbtest.Postgres(t, "sqldb_pool", migrations)
	ctx := context.Background()
	burst := func() {
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if _, err := db.ExecContext(ctx, `SELECT pg_sleep(0.05)`); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	burst()
	before := db.Stats()
	burst()
	after := db.Stats()
	if after.Idle < 10 || after.MaxIdleClosed > 0 || after.OpenConnections > 10 {
		t.Fatalf("after two bursts of 10: %d idle, %d closed as surplus idle, %d open; want 10 kept, none closed", after.Idle, after.MaxIdleClosed, after.OpenConnections)
	}
	if before.OpenConnections != after.OpenConnections {
		t.Fatalf("the second burst changed the pool from %d to %d connections", before.OpenConnections, after.OpenConnections)
	}
}

// A pod's PostgreSQL pool opens no more than its share of the server's
// connections (DATABASE_MAX_CONNS), however many callers wait: the stack
// divides max_connections among the pods on that promise.
func TestPostgresPoolStaysWithinItsShare(t *testing.T) {
	sqldbtest.Postgres(t, "sqldb_share", migrations) // skips or fails when there is no server
	ctx := context.Background()
	app := "carrental_share_" + event.RandomSuffix(12)
	dsn := sqldbtest.PostgresDSN()
	if strings.Contains(dsn, "?") {
		dsn += "&application_name=" + app
	} else {
		dsn += "?application_name=" + app
	}
	const share = 3
	db, err := sqldb.Open(ctx, sqldb.Config{Name: "share", DatabaseURL: dsn, Schema: app, MaxConns: share})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.ExecContext(ctx, `DROP SCHEMA "`+app+`" CASCADE`)
		db.Close()
	})
	watcher, err := sql.Open("pgx", sqldbtest.PostgresDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	var wg sync.WaitGroup
	for range 4 * share {
		wg.Go(func() {
			if _, err := db.ExecContext(ctx, `SELECT pg_sleep(0.1)`); err != nil {
				t.Error(err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	most := 0
	for watching := true; watching; {
		select {
		case <-done:
			watching = false
		case <-time.After(20 * time.Millisecond):
		}
		var n int
		if err := watcher.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		most = max(most, n)
	}
	if most > share || most == 0 {
		t.Fatalf("the server saw up to %d connections of a pool of %d under %d callers", most, share, 4*share)
	}
}

// The checkpointer copies commits into the database file on its own, off
// the commit path: soon after a write the main file alone (what a power
// loss leaves if the WAL's tail is gone) holds it, well before SQLite's
// own checkpoint would have run (the backstop, thousands of pages later).
func TestCheckpointerCopiesCommitsIntoTheDatabaseFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqldb.Open(ctx, sqldb.Config{Name: "ckpt", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY) WITHOUT ROWID`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t (k) VALUES ('committed')`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * sqldb.CheckpointInterval)
	for {
		// The main file alone, copied as it is now, without its WAL.
		raw, err := os.ReadFile(filepath.Join(dir, "ckpt.db"))
		if err != nil {
			t.Fatal(err)
		}
		copyDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(copyDir, "ckpt.db"), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		alone, err := sqldb.Open(ctx, sqldb.Config{Name: "ckpt", DataDir: copyDir})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		err = alone.QueryRowContext(ctx, `SELECT COUNT(*) FROM t WHERE k = 'committed'`).Scan(&n)
		alone.Close()
		if err == nil && n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file alone still lacks the commit after %v (count %d, %v)", 20*sqldb.CheckpointInterval, n, err)
		}
		time.Sleep(sqldb.CheckpointInterval / 2)
	}
}

func pageSize(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `PRAGMA page_size`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// New databases get sqldb.PageSize pages; one an older release made with
// SQLite's default 4 KiB pages keeps them and its rows, and takes writes.
func TestSQLitePageSizeForNewDatabasesOnly(t *testing.T) {
	ctx := context.Background()
	fresh := sqldbtest.SQLite(t, "fresh", migrations)
	if got := pageSize(t, fresh); got != sqldb.PageSize {
		t.Fatalf("a new database has %d-byte pages, want %d", got, sqldb.PageSize)
	}

	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "old.db")+"?_pragma=page_size(4096)&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`CREATE TABLE cars (car_no TEXT PRIMARY KEY, amount BIGINT NOT NULL); INSERT INTO cars VALUES ('car01', 1)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	db, err := sqldb.Open(ctx, sqldb.Config{Name: "old", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := pageSize(t, db); got != 4096 {
		t.Fatalf("the older database has %d-byte pages now, want its 4096", got)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO cars VALUES ('car02', 2)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM cars`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d cars (%v), want the old one and the new one", n, err)
	}
}
