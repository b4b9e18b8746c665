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
	read    *sql.DB
	Dialect Dialect
	// Where names the file or schema, for logs.
	Where  string
	tracer trace.Tracer
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
	// nothing acknowledged; the WAL is fsynced at checkpoints, so a power
	// loss or kernel crash may lose the transactions since the last one.
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
	// deadlock upgrading a read lock.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + string(sync) + ")&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open(cachedDriver, dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// SQLite has one writer; one connection queues writers in Go instead of
	// bouncing them off SQLITE_BUSY under load.
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
	return &DB{DB: db, read: read, Dialect: SQLite, Where: path + " (synchronous " + string(sync) + ")"}, nil
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
// back otherwise.
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
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
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
