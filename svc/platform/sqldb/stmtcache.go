package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

	"modernc.org/sqlite"
)

// SQLite spends a good part of a short statement's time parsing it, and
// database/sql prepares a statement for every Exec and Query. The services
// run the same few dozen statements over and over, so each connection of
// the "sqlite-cached" driver keeps its prepared statements by text and runs
// them again with new arguments.

const cachedDriver = "sqlite-cached"

func init() { sql.Register(cachedDriver, cachingDriver{&sqlite.Driver{}}) }

// maxCachedStatements bounds one connection's cache; the services use far
// fewer distinct statements.
const maxCachedStatements = 256

type cachingDriver struct{ base driver.Driver }

func (d cachingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &cachingConn{base: c, stmts: map[string]*cachedStmt{}}, nil
}

type cachedStmt struct {
	stmt driver.Stmt
	busy bool // rows of it are open: run the text on a fresh statement
}

// cachingConn forwards everything to the base connection and answers
// Exec and Query with cached statements. database/sql uses a connection
// from one goroutine at a time, so the cache needs no lock.
type cachingConn struct {
	base  driver.Conn
	stmts map[string]*cachedStmt
}

// cacheable: one statement (a migration's script holds several, and a
// prepared statement runs only the first).
func cacheable(query string) bool {
	q := strings.TrimRight(strings.TrimSpace(query), ";")
	return !strings.Contains(q, ";")
}

func (c *cachingConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok && !s.busy {
		return s, nil
	}
	st, err := c.base.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{stmt: st}
	if _, taken := c.stmts[query]; !taken && len(c.stmts) < maxCachedStatements {
		c.stmts[query] = s
		return s, nil
	}
	return &cachedStmt{stmt: st, busy: true}, nil // used once, closed after
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if !cacheable(query) {
		return c.base.(driver.ExecerContext).ExecContext(ctx, query, args)
	}
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := s.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if s.busy {
		s.stmt.Close()
	}
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if !cacheable(query) {
		return c.base.(driver.QueryerContext).QueryContext(ctx, query, args)
	}
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	once := s.busy // a statement of its own, closed with its rows
	s.busy = true
	rows, err := s.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		s.busy = false
		if once {
			s.stmt.Close()
		}
		return nil, err
	}
	return &releasingRows{Rows: rows, release: func() {
		s.busy = false
		if once {
			s.stmt.Close()
		}
	}}, nil
}

// releasingRows frees its statement for the next query when closed.
type releasingRows struct {
	driver.Rows
	release func()
}

func (r *releasingRows) Close() error {
	err := r.Rows.Close()
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return err
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.base.Prepare(query) }

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.base.(driver.ConnPrepareContext).PrepareContext(ctx, query)
}

// Begin is driver.Conn's; database/sql calls BeginTx.
func (c *cachingConn) Begin() (driver.Tx, error) { return c.base.Begin() }

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.base.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error { return c.base.(driver.Pinger).Ping(ctx) }

func (c *cachingConn) ResetSession(ctx context.Context) error {
	return c.base.(driver.SessionResetter).ResetSession(ctx)
}

func (c *cachingConn) IsValid() bool { return c.base.(driver.Validator).IsValid() }

func (c *cachingConn) Close() error {
	var errs []error
	for _, s := range c.stmts {
		errs = append(errs, s.stmt.Close())
	}
	c.stmts = nil
	return errors.Join(append(errs, c.base.Close())...)
}
