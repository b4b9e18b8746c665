// Package sqlstore keeps payments in SQL (SQLite or PostgreSQL) with their
// events in the same transactions.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/carrental/carrental/svc/event"
	"github.com/carrental/carrental/svc/outbox"
	"github.com/carrental/carrental/svc/payment"
	"github.com/carrental/carrental/svc/sqldb"
	"github.com/carrental/carrental/svc/value"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the payment tables.
var Migrations, _ = fs.Sub(migrations, "migrations")

// Store implements payment.Repository.
type Store struct{ DB *sqldb.DB }

var _ payment.Repository = Store{}

const columns = `paymt_no, resrv_no, idem_key, car_no, cust_no, amount, status, created_at, updated_at`

func scan(row sqldb.Scanner) (payment.Payment, error) {
	var (
		p                payment.Payment
		amount           int64
		status           string
		created, updated string
	)
	err := row.Scan(&p.PaymtNo, &p.ResrvNo, &p.Key, &p.CarNo, &p.CustNo, &amount, &status, &created, &updated)
	p.Amount, p.Status = value.Amount(amount), payment.Status(status)
	p.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	p.UpdatedAt, _ = time.Parse(time.RFC3339Nano, updated)
	return p, err
}

func (s Store) Create(ctx context.Context, p payment.Payment, evt event.Event) error {
	return s.DB.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO payments (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			p.PaymtNo, p.ResrvNo, p.Key, p.CarNo, p.CustNo, int64(p.Amount), string(p.Status),
			p.CreatedAt.Format(time.RFC3339Nano), p.UpdatedAt.Format(time.RFC3339Nano))
		if sqldb.IsUniqueViolation(err) {
			return payment.ErrDuplicate
		}
		if err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		return outbox.Add(ctx, tx, evt)
	})
}

func (s Store) Find(ctx context.Context, paymtNo, resrvNo, key string) (payment.Payment, error) {
	p, err := scan(s.DB.QueryRowContext(ctx, `SELECT `+columns+` FROM payments
		WHERE paymt_no = $1 OR resrv_no = $2 OR idem_key = $3 ORDER BY created_at LIMIT 1`, paymtNo, resrvNo, key))
	if errors.Is(err, sql.ErrNoRows) {
		return p, payment.ErrNotFound
	}
	return p, err
}

func (s Store) Get(ctx context.Context, paymtNo string) (payment.Payment, error) {
	p, err := scan(s.DB.QueryRowContext(ctx, `SELECT `+columns+` FROM payments WHERE paymt_no = $1`, paymtNo))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("payment %q: %w", paymtNo, payment.ErrNotFound)
	}
	return p, err
}

func (s Store) List(ctx context.Context, resrvNo string) ([]payment.Payment, error) {
	if resrvNo == "" {
		return sqldb.List(ctx, s.DB, scan, `SELECT `+columns+` FROM payments ORDER BY paymt_no`)
	}
	return sqldb.List(ctx, s.DB, scan, `SELECT `+columns+` FROM payments WHERE resrv_no = $1 ORDER BY paymt_no`, resrvNo)
}

func (s Store) Cancel(ctx context.Context, paymtNo string, at time.Time, evt event.Event) (bool, error) {
	return outbox.UpdateWithEvent(ctx, s.DB, &evt,
		`UPDATE payments SET status = $1, updated_at = $2 WHERE paymt_no = $3 AND status = $4`,
		string(payment.Canceled), at.Format(time.RFC3339Nano), paymtNo, string(payment.Approved))
}
