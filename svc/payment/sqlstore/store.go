// Package sqlstore keeps payments in SQL (SQLite or PostgreSQL) with their
// events in the same transactions.
package sqlstore

import (
	"context"
	"embed"
	"time"

	"github.com/carrental/carrental/svc/payment"
	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/outbox"
	"github.com/carrental/carrental/svc/platform/sqldb"
	"github.com/carrental/carrental/svc/platform/value"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations are the payment tables.
var Migrations = sqldb.MustSub(migrations, "migrations")

// Store implements payment.Repository.
type Store struct{ DB *sqldb.DB }

var _ payment.Repository = Store{}

var payments = sqldb.Table[payment.Payment]{
	Noun:   "payment",
	Select: `SELECT paymt_no, resrv_no, idem_key, car_no, cust_no, amount, status, created_at, updated_at FROM payments`,
	Fields: func(p *payment.Payment) []any {
		return []any{&p.PaymtNo, &p.ResrvNo, &p.Key, &p.CarNo, &p.CustNo, &p.Amount, &p.Status, sqldb.Timestamp(&p.CreatedAt), sqldb.Timestamp(&p.UpdatedAt)}
	},
	Key:      func(p *payment.Payment) string { return p.PaymtNo },
	NotFound: payment.ErrNotFound,
}

func (s Store) Create(ctx context.Context, p payment.Payment, evt event.Event) error {
	return outbox.InsertWithEvent(ctx, s.DB, evt, payment.ErrDuplicate,
		`INSERT INTO payments (paymt_no, resrv_no, idem_key, car_no, cust_no, amount, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.PaymtNo, p.ResrvNo, p.Key, p.CarNo, p.CustNo, p.Amount, p.Status, sqldb.Timestamp(&p.CreatedAt), sqldb.Timestamp(&p.UpdatedAt))
}

func (s Store) Find(ctx context.Context, paymtNo, resrvNo, key string) (payment.Payment, error) {
	return payments.One(ctx, s.DB, paymtNo, `WHERE paymt_no = $1 OR resrv_no = $2 OR idem_key = $3 ORDER BY created_at LIMIT 1`, paymtNo, resrvNo, key)
}

func (s Store) Get(ctx context.Context, paymtNo string) (payment.Payment, error) {
	return payments.One(ctx, s.DB, paymtNo, `WHERE paymt_no = $1`, paymtNo)
}

func (s Store) List(ctx context.Context, resrvNo, custNo string, p value.Page) (value.List[payment.Payment], error) {
	switch {
	case resrvNo != "" && custNo != "":
		return payments.Page(ctx, s.DB, "paymt_no", p, "resrv_no = $1 AND cust_no = $2", resrvNo, custNo)
	case resrvNo != "":
		return payments.Page(ctx, s.DB, "paymt_no", p, "resrv_no = $1", resrvNo)
	case custNo != "":
		return payments.Page(ctx, s.DB, "paymt_no", p, "cust_no = $1", custNo)
	}
	return payments.Page(ctx, s.DB, "paymt_no", p, "")
}

func (s Store) Cancel(ctx context.Context, paymtNo string, at time.Time, evt event.Event) (bool, error) {
	return outbox.UpdateWithEvent(ctx, s.DB, &evt,
		`UPDATE payments SET status = $1, updated_at = $2 WHERE paymt_no = $3 AND status = $4`,
		payment.Canceled, sqldb.Timestamp(&at), paymtNo, payment.Approved)
}
