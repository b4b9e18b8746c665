package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/carrental/carrental/svc/platform/value"
)

// Querier reads rows: a *DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Table maps the rows of one query to T, so a store writes only its SQL:
// Fields hands out the scan destinations of a *T in the SELECT's column
// order (value types and Timestamp adapters scan directly into the
// struct), and Noun and Key name a row in every error.
type Table[T any] struct {
	Noun     string         // what one row is, e.g. "car"
	Select   string         // SELECT <columns> FROM ..., without WHERE or ORDER BY
	Fields   func(*T) []any // scan destinations, in Select's column order
	Key      func(*T) string
	NotFound error // wrapped when One finds no row
}

// One returns the single row that Select + " " + where selects. No row is
// NotFound, wrapped with key; a row that does not scan is an error naming
// its key.
func (t Table[T]) One(ctx context.Context, q Querier, key, where string, args ...any) (T, error) {
	var v T
	err := q.QueryRowContext(ctx, t.Select+" "+where, args...).Scan(t.Fields(&v)...)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return v, fmt.Errorf("%s %q: %w", t.Noun, key, t.NotFound)
	case err != nil:
		return v, fmt.Errorf("%s %q: %w", t.Noun, key, err)
	}
	return v, nil
}

// List returns every row of Select + " " + rest. It returns an empty,
// non-nil slice when there are no rows, so JSON lists are [] not null.
func (t Table[T]) List(ctx context.Context, q Querier, rest string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, t.Select+" "+rest, args...)
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", t.Noun, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := rows.Scan(t.Fields(&v)...); err != nil {
			// database/sql assigns columns in order and stops at the bad
			// one, and every Select starts with the key.
			return nil, fmt.Errorf("%s %q: %w", t.Noun, t.Key(&v), err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %ss: %w", t.Noun, err)
	}
	return out, nil
}

// TimeLayout is how timestamps are stored: RFC 3339 text with nanoseconds,
// in UTC, which sorts as text and reads the same in both engines.
const TimeLayout = time.RFC3339Nano

// Timestamp scans a stored timestamp into *p and stores *p: use it in
// Table.Fields and as a statement argument. A value that does not parse is
// an error, never the zero time.
func Timestamp(p *time.Time) interface {
	sql.Scanner
	driver.Valuer
} {
	return timestamp{p}
}

type timestamp struct{ p *time.Time }

func (t timestamp) Scan(src any) error {
	s, err := text(src)
	if err != nil {
		return err
	}
	v, err := time.Parse(TimeLayout, s)
	if err != nil {
		return fmt.Errorf("corrupt timestamp %q: %w", s, err)
	}
	*t.p = v
	return nil
}

func (t timestamp) Value() (driver.Value, error) { return t.p.UTC().Format(TimeLayout), nil }

// OptionalTimestamp is Timestamp for a time that may be absent, stored as
// the empty string.
func OptionalTimestamp(p **time.Time) interface {
	sql.Scanner
	driver.Valuer
} {
	return optionalTimestamp{p}
}

type optionalTimestamp struct{ p **time.Time }

func (t optionalTimestamp) Scan(src any) error {
	s, err := text(src)
	if err != nil || s == "" {
		*t.p = nil
		return err
	}
	v := new(time.Time)
	if err := (timestamp{v}).Scan(s); err != nil {
		return err
	}
	*t.p = v
	return nil
}

func (t optionalTimestamp) Value() (driver.Value, error) {
	if *t.p == nil {
		return "", nil
	}
	return timestamp{*t.p}.Value()
}

func text(src any) (string, error) {
	switch v := src.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("timestamp column holds %T, want text", src)
}

// MustSub is fs.Sub for a service's embedded migrations: the directory is
// fixed at compile time, so a failure is a programming error, reported at
// start rather than ignored.
func MustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(fmt.Sprintf("sqldb: migrations %s: %v", dir, err))
	}
	if _, err := fs.ReadDir(sub, "."); err != nil {
		panic(fmt.Sprintf("sqldb: migrations %s: %v", dir, err))
	}
	return sub
}

// Exec runs a statement in tx and returns how many rows it changed.
func Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// Page returns one page of rows in key order: Select, then where (a
// condition or ""), then the keyset condition on keyColumn. It reads one
// row more than asked to know whether a next page exists.
func (t Table[T]) Page(ctx context.Context, q Querier, keyColumn string, p value.Page, where string, args ...any) (value.List[T], error) {
	conds := []string{}
	if where != "" {
		conds = append(conds, "("+where+")")
	}
	if p.After != "" {
		args = append(args, p.After)
		conds = append(conds, fmt.Sprintf("%s > $%d", keyColumn, len(args)))
	}
	query := ""
	if len(conds) > 0 {
		query = "WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, p.Limit+1)
	query += fmt.Sprintf(" ORDER BY %s LIMIT $%d", keyColumn, len(args))
	items, err := t.List(ctx, q, query, args...)
	if err != nil {
		return value.List[T]{}, err
	}
	out := value.List[T]{Items: items}
	if len(items) > p.Limit {
		out.Items = items[:p.Limit]
		out.Next = t.Key(&out.Items[p.Limit-1])
	}
	return out, nil
}
