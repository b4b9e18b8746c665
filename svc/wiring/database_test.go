package wiring_test

import (
	"context"
	"testing"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/sqldb/sqldbtest"
	"github.com/carrental/carrental/svc/wiring"
)

// The stack gives the database (its credentials, a share of its
// connections) to the services contract.HasDatabase names: exactly those
// whose specs migrate a schema.
func TestHasDatabaseIsWhoMigrates(t *testing.T) {
	for _, spec := range wiring.All() {
		if got, want := contract.HasDatabase(spec.Service), spec.Migrations != nil; got != want {
			t.Errorf("%s: contract.HasDatabase %v, but it has migrations: %v", spec.Service, got, want)
		}
	}
}

// Every SQLite table a service writes per request is one B-tree: a table
// keyed by anything but an integer and kept with a rowid is two (rows and
// key index), so each insert wrote a page more to the WAL and to every
// checkpoint (the reservation bench's p99 came mostly from checkpoints).
// The outbox's INTEGER PRIMARY KEY is the rowid itself, and no table uses
// AUTOINCREMENT (a sqlite_sequence write per insert).
func TestSQLiteTablesAreOneTreeEach(t *testing.T) {
	for _, spec := range wiring.All() {
		if spec.Migrations == nil {
			continue
		}
		t.Run(string(spec.Service), func(t *testing.T) {
			db := sqldbtest.SQLite(t, string(spec.Service), spec.Migrations)
			ctx := context.Background()
			rows, err := db.QueryContext(ctx, `SELECT t.name, i.name FROM pragma_table_list t, pragma_index_list(t.name) i
				WHERE t.schema = 'main' AND t.type = 'table' AND NOT t.wr AND i.origin = 'pk'
				AND t.name != 'schema_migrations'`) // written once per migration, not per request
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var table, index string
				if err := rows.Scan(&table, &index); err != nil {
					t.Fatal(err)
				}
				t.Errorf("table %s keeps its primary key in an index of its own (%s): declare it WITHOUT ROWID", table, index)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			var autoincrement int
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'`).Scan(&autoincrement); err != nil {
				t.Fatal(err)
			}
			if autoincrement != 0 {
				t.Error("a table uses AUTOINCREMENT: every insert also writes sqlite_sequence")
			}
		})
	}
}
