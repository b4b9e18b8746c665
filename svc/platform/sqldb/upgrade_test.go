package sqldb

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// before is fsys without the migrations from name on: a database made by an
// older release.
func before(t *testing.T, fsys fs.FS, name string) fs.FS {
	t.Helper()
	old := fstest.MapFS{}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n >= name {
			continue
		}
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			t.Fatal(err)
		}
		old[n] = &fstest.MapFile{Data: body}
	}
	return old
}

// A database made before the outbox lost AUTOINCREMENT and the inbox its
// rowid keeps every unrelayed event, in order, and every applied event's
// record; events stored after the upgrade come after the old ones.
func TestUpgradedOutboxAndInboxKeepTheirRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	current := platformMigrations
	platformMigrations = before(t, current, "004")
	t.Cleanup(func() { platformMigrations = current })

	db, err := Open(ctx, Config{Name: "upgrade", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"e1", "e2"} {
		if _, err := db.ExecContext(ctx, `INSERT INTO outbox (event_id, subject, body, created_at, traceparent) VALUES ($1, 's', '{}', 'now', 'tp-'||$1)`, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO inbox (consumer, event_id, applied_at) VALUES ('view', 'e0', 'then')`); err != nil {
		t.Fatal(err)
	}

	platformMigrations = current
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO outbox (event_id, subject, body, created_at) VALUES ('e3', 's', '{}', 'now')`); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT event_id, traceparent FROM outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id, tp string
		if err := rows.Scan(&id, &tp); err != nil {
			t.Fatal(err)
		}
		got = append(got, id+":"+tp)
	}
	rows.Close()
	if want := "e1:tp-e1 e2:tp-e2 e3:"; strings.Join(got, " ") != want {
		t.Errorf("outbox after the upgrade: %q, want %q", strings.Join(got, " "), want)
	}
	res, err := db.ExecContext(ctx, `INSERT INTO inbox (consumer, event_id, applied_at) VALUES ('view', 'e0', 'again') ON CONFLICT DO NOTHING`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 0 {
		t.Error("the inbox forgot an applied event: it would be applied twice")
	}
	var ddl string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = 'outbox'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ddl, "AUTOINCREMENT") {
		t.Errorf("outbox still AUTOINCREMENT: %s", ddl)
	}
}
