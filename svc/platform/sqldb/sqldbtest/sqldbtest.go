// Package sqldbtest gives tests a migrated database of each engine: SQLite in
// a temporary directory, and PostgreSQL in a schema of its own on the server
// named by CARRENTAL_TEST_POSTGRES (default: the local server, database
// test), dropped when the test ends. When that server cannot be reached the
// PostgreSQL half is skipped, unless CARRENTAL_REQUIRE_SERVICES=1 (set by
// scripts/test, which starts the server first), where it fails.
package sqldbtest

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/sqldb"
)

// DefaultPostgres is the machine's PostgreSQL (trust auth, database test).
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresDSN is the server tests use.
func PostgresDSN() string {
	if dsn := os.Getenv("CARRENTAL_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultPostgres
}

// Required reports whether missing services fail tests instead of skipping.
func Required() bool { return os.Getenv("CARRENTAL_REQUIRE_SERVICES") == "1" }

// SQLite returns a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB, name string, migrations fs.FS) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), sqldb.Config{Name: name, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), migrations); err != nil {
		t.Fatal(err)
	}
	return db
}

// Postgres returns a migrated PostgreSQL database in a fresh schema.
func Postgres(t testing.TB, name string, migrations fs.FS) *sqldb.DB {
	t.Helper()
	dsn := PostgresDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	probe, err := sql.Open("pgx", dsn)
	if err == nil {
		err = probe.PingContext(ctx)
		probe.Close()
	}
	if err != nil {
		if Required() {
			t.Fatalf("PostgreSQL at %s is required (CARRENTAL_REQUIRE_SERVICES=1): %v", dsn, err)
		}
		t.Skipf("PostgreSQL at %s unreachable (scripts/test starts it): %v", dsn, err)
	}
	schema := fmt.Sprintf("t_%s_%s", strings.ToLower(name), event.RandomSuffix(12))
	db, err := sqldb.Open(context.Background(), sqldb.Config{Name: name, DatabaseURL: dsn, Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), `DROP SCHEMA "`+schema+`" CASCADE`)
		db.Close()
	})
	if err := db.Migrate(context.Background(), migrations); err != nil {
		t.Fatal(err)
	}
	return db
}

// Each runs fn as a subtest against SQLite and against PostgreSQL.
func Each(t *testing.T, name string, migrations fs.FS, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, name, migrations)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, name, migrations)) })
}
