package sqldb

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed platform/*.sql
var embeddedPlatform embed.FS

// platformMigrations are the outbox's and the inbox's tables (a variable:
// the upgrade test starts a database from an older set).
var platformMigrations = MustSub(embeddedPlatform, "platform")

// Migrate applies the platform's migrations and then the service's, each
// once, in file-name order. A file named "NNN_x.sql" runs on both engines;
// "NNN_x.sqlite.sql" and "NNN_x.postgres.sql" run only on theirs. All of it
// happens in one transaction, so a failed start leaves the schema as it was,
// and on PostgreSQL under an advisory lock, so replicas starting together do
// not race.
func (db *DB) Migrate(ctx context.Context, service fs.FS) error {
	var steps []migration
	for _, src := range []struct {
		prefix string
		fsys   fs.FS
	}{{"platform", platformMigrations}, {"service", service}} {
		if src.fsys == nil {
			continue
		}
		found, err := db.migrationsIn(src.fsys, src.prefix)
		if err != nil {
			return err
		}
		steps = append(steps, found...)
	}
	return db.Tx(ctx, func(tx *sql.Tx) error {
		if db.Dialect == Postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(727274)`); err != nil {
				return fmt.Errorf("migrate: lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, m := range steps {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE name = $1`, m.name).Scan(&one)
			if err == nil {
				continue
			}
			if err != sql.ErrNoRows {
				return fmt.Errorf("migrate: %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migrate: %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`,
				m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
				return fmt.Errorf("migrate: %s: %w", m.name, err)
			}
		}
		return nil
	})
}

type migration struct{ name, sql string }

func (db *DB) migrationsIn(fsys fs.FS, prefix string) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []migration
	for _, name := range names {
		base := strings.TrimSuffix(name, ".sql")
		if ext := path.Ext(base); ext == ".sqlite" || ext == ".postgres" {
			if Dialect(ext[1:]) != db.Dialect {
				continue
			}
			base = strings.TrimSuffix(base, ext)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{name: prefix + "/" + base, sql: string(body)})
	}
	return out, nil
}
