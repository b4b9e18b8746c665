package endpointmw

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/carrental/carrental/svc/platform/errs"
)

type records struct {
	mu  sync.Mutex
	got []slog.Record
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// One log line per request, at a level that says whose fault it was; a
// caller that hung up is not an error of ours, in the log or the metrics.
func TestOneLogLinePerRequestAtTheRightLevel(t *testing.T) {
	cases := []struct {
		err     error
		level   slog.Level
		outcome string
	}{
		{nil, slog.LevelDebug, "ok"},
		{errs.E(errs.Invalid, "bad"), slog.LevelInfo, "invalid"},
		{errs.E(errs.Unavailable, "down"), slog.LevelError, "unavailable"},
		{errors.New("boom"), slog.LevelError, "internal"},
		{fmt.Errorf("reading: %w", context.Canceled), slog.LevelDebug, "canceled"},
	}
	for _, c := range cases {
		h := &records{}
		reg := prometheus.NewRegistry()
		m := NewMetrics(reg, "test")
		ep := Chain(func(context.Context, any) (any, error) { return nil, c.err }, "op", slog.New(h), m)
		_, _ = ep(context.Background(), nil)
		if len(h.got) != 1 || h.got[0].Level != c.level {
			t.Errorf("%v: %d records %v, want one at %v", c.err, len(h.got), h.got, c.level)
		}
		n, err := testutil.GatherAndCount(reg, "carrental_test_requests_total")
		if err != nil || n != 1 {
			t.Fatalf("%v: %d series (%v)", c.err, n, err)
		}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "carrental_test_requests_total" {
				continue
			}
			for _, l := range mf.GetMetric()[0].GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() != c.outcome {
					t.Errorf("%v: outcome %q, want %q", c.err, l.GetValue(), c.outcome)
				}
			}
		}
	}
}
