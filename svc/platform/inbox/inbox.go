// Package inbox makes event consumers idempotent: Apply records the event ID
// in the same transaction as the state change the event causes, so an event
// delivered twice (JetStream delivers at least once) is applied once.
package inbox

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/carrental/carrental/svc/platform/event"
	"github.com/carrental/carrental/svc/platform/sqldb"
)

// Apply runs fn for evt inside a transaction unless consumer has applied evt
// before. It reports whether fn ran. When fn fails nothing is recorded and
// the event will be applied on redelivery.
func Apply(ctx context.Context, db *sqldb.DB, consumer string, evt event.Event, fn func(ctx context.Context, tx *sql.Tx) error) (applied bool, err error) {
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		applied = false // a second run starts over (sqldb.DB.Tx)
		res, err := tx.ExecContext(ctx,
			`INSERT INTO inbox (consumer, event_id, applied_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			consumer, evt.ID, time.Now().UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("inbox: record %s: %w", evt.ID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("inbox: record %s: %w", evt.ID, err)
		}
		if n == 0 {
			return nil
		}
		applied = true
		return fn(ctx, tx)
	})
	if err != nil {
		applied = false
	}
	return applied, err
}
