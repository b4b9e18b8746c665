// Package sqldb opens a service's own database: embedded SQLite under the
// data directory by default, PostgreSQL when a DSN is configured, with the
// service's tables in a schema named after it. It applies the platform's
// migrations (outbox, inbox) and the service's embedded migrations at start.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/carrental/carrental/svc/contract"
)

// Dialect is the SQL engine behind a DB. Queries use $1-style placeholders,
// which both engines accept.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a service's database handle. Writes (Exec, Tx) go to *sql.DB;
// reads outside a transaction (QueryContext, QueryRowContext) go to the
// read pool when there is one (SQLite: many readers beside its one writer).
type DB struct {
	*sql.DB
	read *sql.DB
	// checkpoints stops SQLite's checkpointer and waits for it (nil: none).
	checkpoints func()
	Dialect     Dialect
	// Where names the file or schema, for logs.
	Where  string
	tracer trace.Tracer
	// writes queues and groups SQLite's writers (nil: PostgreSQL's pool
	// writes in parallel).
	writes *writeQueue
}

// ExecContext runs one write outside a transaction, in its turn (SQLite:
// possibly in a group's transaction; see writeQueue).
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.writes == nil {
		return db.DB.ExecContext(ctx, query, args...)
	}
	var res sql.Result
	err := db.writes.write(&pendingWrite{ctx: ctx,
		fn: func(tx *sql.Tx) (err error) {
			res, err = tx.ExecContext(ctx, query, args...)
			return err
		},
		alone: func() (err error) {
			res, err = db.DB.ExecContext(ctx, query, args...)
			return err
		}})
	return res, err
}

// QueryContext reads from the read pool, if any.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if db.read != nil {
		return db.read.QueryContext(ctx, query, args...)
	}
	return db.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext reads one row from the read pool, if any.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if db.read != nil {
		return db.read.QueryRowContext(ctx, query, args...)
	}
	return db.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the writer and the read pool.
func (db *DB) Close() error {
	if db.checkpoints != nil {
		db.checkpoints()
	}
	if db.read != nil {
		db.read.Close()
	}
	return db.DB.Close()
}

// Sync is how SQLite makes a commit durable.
type Sync string

const (
	// SyncNormal (the default): a committed transaction is in the WAL file
	// before the commit returns, so a crash of the process (kill -9) loses
	// nothing acknowledged; the WAL is fsynced at checkpoints (every
	// CheckpointInterval), so a power loss or kernel crash may lose the
	// transactions of about the last interval.
	SyncNormal Sync = "normal"
	// SyncFull fsyncs the WAL at every commit: nothing acknowledged is lost
	// even to a power loss, at one fsync per write transaction.
	SyncFull Sync = "full"
)

// Config says where a service's data lives.
type Config struct {
	Name        string // the service; names the SQLite file and the default schema
	DataDir     string // SQLite: <DataDir>/<Name>.db
	DatabaseURL string // PostgreSQL DSN; empty selects SQLite
	Schema      string // PostgreSQL schema; default Name (tests use their own)
	Sync        Sync   // SQLite: SyncNormal (default) or SyncFull
	// MaxConns caps the PostgreSQL pool of this process (0:
	// contract.DefaultDatabaseMaxConns). Every pod of every service holds
	// its own pool, so the stack divides the server's max_connections
	// among them (DATABASE_MAX_CONNS).
	MaxConns int
	// Tracer makes a span of every transaction (nil: none).
	Tracer trace.Tracer
}

// CheckpointInterval is how often a SQLite database's checkpointer copies
// the WAL into the database file (fsyncing both), off the commit path.
// SQLite's own checkpoint runs inside the commit that fills 1000 WAL
// pages: that commit, and every writer queued behind the one writer
// connection, waited for the copy and two fsyncs (fsync here: 5 ms at
// p90), half the reservations' p99. Short, because a checkpoint's copy
// stalls the others in proportion to its size (every 1 s: p99 90 ms and
// worse; every 100 ms: 56-64 ms against 66-77 with SQLite's own). The
// interval also bounds what a power loss may take with synchronous
// normal: about its commits (1000 pages bounded nothing in time: a quiet
// service kept its commits unsynced until the next burst).
const CheckpointInterval = 100 * time.Millisecond

// backstopCheckpointPages is the writer's own wal_autocheckpoint: far
// beyond what the checkpointer lets accumulate, so it only acts if the
// checkpointer cannot (the WAL then still does not grow without bound).
const backstopCheckpointPages = 20000

// sqliteReaders is the size of SQLite's read pool: readers run beside the
// writer in WAL mode, so a list never waits behind a commit.
const sqliteReaders = 4

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects and checks the connection. It does not migrate: call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	open := openSQLite
	if cfg.DatabaseURL != "" {
		open = openPostgres
	}
	db, err := open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	db.tracer = cfg.Tracer
	if db.tracer == nil {
		db.tracer = noop.NewTracerProvider().Tracer("")
	}
	return db, nil
}

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, cfg.Name+".db")
	sync := cfg.Sync
	if sync == "" {
		sync = SyncNormal
	}
	if sync != SyncNormal && sync != SyncFull {
		return nil, fmt.Errorf("sqlite: sync %q: want %s or %s", sync, SyncNormal, SyncFull)
	}
	// WAL: readers never block the writer nor it them. Immediate
	// transactions take the write lock up front so two writers never
	// deadlock upgrading a read lock. The driver runs the _pragma list in
	// lexical order and _journal_mode after it: page_size must come first,
	// since turning WAL on creates the file with the default page size.
	dsn := "file:" + path + fmt.Sprintf("?_pragma=busy_timeout(10000)&_pragma=page_size(%d)&_journal_mode=WAL", PageSize) +
		"&_pragma=synchronous(" + string(sync) + ")&_pragma=foreign_keys(1)&_txlock=immediate" +
		fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)&_pragma=journal_size_limit(%d)", backstopCheckpointPages, walSizeLimit)
	db, err := sql.Open(cachedDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// SQLite has one writer; one connection, and writeQueue in front of
	// it, queue writers in Go instead of bouncing them off SQLITE_BUSY.
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	read, err := sql.Open(cachedDriver, "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=foreign_keys(1)")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(sqliteReaders)
	read.SetMaxIdleConns(sqliteReaders)
	stop, err := startCheckpointer(path, sync, CheckpointInterval)
	if err != nil {
		read.Close()
		db.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return &DB{DB: db, read: read, checkpoints: stop, writes: &writeQueue{db: db}, Dialect: SQLite, Where: path + " (synchronous " + string(sync) + ")"}, nil
}

// PageSize is the page size of every new SQLite database, a quarter of
// SQLite's default. A commit writes each page it changed whole into the WAL
// and a checkpoint copies it again, while a reservation's commits change a
// few hundred bytes per page: a booking wrote 66 KB to the disk with 4 KiB
// pages, 27 KB with 1 KiB (the process's write_bytes). Alternating runs of bench (b): p99 59 -> 51 ms, +7 % req/s
// (2 KiB pages: within noise of 4). A database made with another page size
// keeps it (WAL fixes it at creation; changing it takes a VACUUM outside
// WAL mode) and works as before.
const PageSize = 1024

// walSizeLimit is what the WAL file is truncated to when SQLite starts it
// over after a full checkpoint (a burst's WAL is not kept on disk).
const walSizeLimit = 64 << 20

// startCheckpointer checkpoints path's WAL every interval on a connection
// of its own. PASSIVE never waits for readers or the writer, and the
// writer appends to the WAL while it runs, so no request waits for it.
// The returned func stops it; the last checkpoint then is the one SQLite
// makes when the writer closes.
func startCheckpointer(path string, sync Sync, interval time.Duration) (stop func(), err error) {
	conn, err := sql.Open(cachedDriver, "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=synchronous("+string(sync)+")")
	if err != nil {
		return nil, err
	}
	conn.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				// An error (the disk, a checkpoint already running) leaves
				// the frames for the next tick, or for the backstop.
				_, _ = conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
			}
		}
	}()
	return func() { cancel(); <-done; conn.Close() }, nil
}

func openPostgres(ctx context.Context, cfg Config) (*DB, error) {
	schema := cfg.Schema
	if schema == "" {
		schema = cfg.Name
	}
	if !identifier.MatchString(schema) {
		return nil, fmt.Errorf("postgres: schema %q is not a plain lower-case identifier", schema)
	}
	pc, err := pgx.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", redact(cfg.DatabaseURL), err)
	}
	// Create the schema on a plain connection first: search_path may not
	// name a schema that does not exist yet.
	boot := stdlib.OpenDB(*pc)
	_, err = boot.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS "`+schema+`"`)
	boot.Close()
	if err != nil && !IsUniqueViolation(err) { // two replicas racing to create it
		return nil, fmt.Errorf("postgres: create schema %s: %w", schema, err)
	}
	pc.RuntimeParams["search_path"] = schema
	// After an RDS failover the endpoint's name points at the standby: a
	// broken connection fails with driver.ErrBadConn, which database/sql
	// answers by dialling again (and by retrying the statement only when
	// nothing of it reached the server), so no statement runs twice. A
	// dial must not hang on the old primary's address.
	if pc.ConnectTimeout == 0 {
		pc.ConnectTimeout = 5 * time.Second
	}
	db := stdlib.OpenDB(*pc)
	// As many kept idle as may be open: database/sql keeps 2 by default,
	// so under load every burst closed connections and dialled new ones
	// (a backend process, and on RDS a TLS handshake, each), which held
	// the bench's reservations at 154/s with PostgreSQL mostly idle.
	conns := cfg.MaxConns
	if conns <= 0 {
		conns = contract.DefaultDatabaseMaxConns
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres %s: %w", redact(cfg.DatabaseURL), err)
	}
	return &DB{DB: db, Dialect: Postgres, Where: pc.Host + "/" + pc.Database + " schema " + schema}, nil
}

// redact drops the password from a DSN for error messages.
func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "***" + dsn[i:]
		}
	}
	return dsn
}

// Tx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise. On SQLite the transaction may be shared with other
// writers (group commit; see writeQueue), and fn may run a second time
// after a first run was rolled back because another writer of the group
// failed: fn works only through tx and sets what it reports afresh on
// each run. It returns after the commit that holds fn's work.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	ctx, span := db.tracer.Start(ctx, "sql transaction", trace.WithSpanKind(trace.SpanKindClient))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "rolled back")
		}
		span.End()
	}()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("db.system.name", db.system()), attribute.String("db.namespace", db.Where))
	}
	if db.writes == nil {
		return db.tx(ctx, fn)
	}
	return db.writes.write(&pendingWrite{ctx: ctx, fn: fn, alone: func() error { return db.tx(ctx, fn) }})
}

// tx runs fn in a transaction of its own.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Deferred, so that a panicking fn does not keep the transaction
	// (and with it SQLite's one writer connection) open for ever.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// system is the engine's name in OpenTelemetry's vocabulary.
func (db *DB) system() string {
	if db.Dialect == Postgres {
		return "postgresql"
	}
	return string(db.Dialect)
}

// IsUniqueViolation reports whether err is a unique or primary key
// violation in either engine.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
