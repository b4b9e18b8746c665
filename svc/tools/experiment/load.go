package experiment

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/carrental/carrental/svc/tools/loadgen"
)

// background is load that runs until stopped, siege-style (closed loop).
type background struct {
	cancel context.CancelFunc
	done   chan loadgen.Summary
}

// SteadyRate is the pace of the traffic an experiment watches while it
// disrupts something (a liveness restart, a rollout): enough to see any
// failed request, little enough not to make the autoscaler grow the
// service past what a small node holds, which would leave a rollout's
// extra pod nowhere to run. At 200/s management grew past its 20 % CPU
// target to 5 pods during a rollout on the two-core test node, which holds
// 3, and the rollout (maxUnavailable 0) stalled for want of room.
const SteadyRate = 100

// startLoad sends requests to the gateway with concurrency users until
// stop, at rate requests per second (0: siege's closed loop); the summary
// is printed when it stops.
func (e *Env) startLoad(ctx context.Context, concurrency, rate int, method, path, body string) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel, done: make(chan loadgen.Summary, 1)}
	go func() {
		header, err := e.operatorHeader()
		if err != nil {
			b.done <- loadgen.Summary{Errors: []string{err.Error()}}
			return
		}
		s, err := loadgen.Run(ctx, loadgen.Options{
			Concurrency: concurrency, Rate: rate, Duration: time.Hour, Timeout: 10 * time.Second,
			Method: method, URL: e.Gateway + path, Body: []byte(body), ContentType: "application/json", Header: header,
		}, io.Discard)
		if err != nil {
			s.Errors = append(s.Errors, err.Error())
		}
		b.done <- s
	}()
	return b
}

func (b *background) stop() loadgen.Summary {
	b.cancel()
	return <-b.done
}

// siege runs a bounded load (the write-up's `siege -cN -tT`) and returns
// its summary.
func (e *Env) siege(ctx context.Context, o loadgen.Options) (loadgen.Summary, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	o.URL = e.Gateway + o.URL
	if o.Header == nil {
		h, err := e.operatorHeader()
		if err != nil {
			return loadgen.Summary{}, err
		}
		o.Header = h
	}
	return loadgen.Run(ctx, o, io.Discard)
}

// failed counts the answers that were not 2xx (transport errors included).
func failed(s loadgen.Summary) int {
	n := 0
	for code, count := range s.StatusCodes {
		if c, _ := strconv.Atoi(code); c < 200 || c > 299 {
			n += count
		}
	}
	return n
}

// codes renders the status counts: "200=120 503=4".
func codes(s loadgen.Summary) string {
	keys := make([]string, 0, len(s.StatusCodes))
	for k := range s.StatusCodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		label := k
		if k == "0" {
			label = "transport-error"
		}
		parts[i] = fmt.Sprintf("%s=%d", label, s.StatusCodes[k])
	}
	return strings.Join(parts, " ")
}

func figures(s loadgen.Summary) string {
	return fmt.Sprintf("%d requests in %.1fs (%.0f/s), p50 %s p99 %s, %s", s.Transactions, s.Elapsed.Seconds(), s.Rate,
		s.P50.Round(time.Millisecond), s.P99.Round(time.Millisecond), codes(s))
}
