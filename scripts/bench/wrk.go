package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkScript books the Nth distinct reservation with the Nth request. It
// stops sending before it runs out of cars (wrk still waits out its
// duration, so such a run's rate would be wrong: done says so). done
// prints one parseable line: wrk's own summary counts only non-2xx
// answers, not which.
const wrkScript = `
local n = -1
local limit = %d
local body = [[%s]]
statuses = {}
exhausted = 0
local threads = {}

function setup(thread) table.insert(threads, thread) end

function request()
  n = n + 1
  return wrk.format("POST", %q, nil, string.format(body, n, n, n))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if n >= limit then exhausted = 1; wrk.thread:stop() end
end

function done(summary, latency, requests)
  io.write(string.format("BENCH p50=%%d p99=%%d requests=%%d duration=%%d", latency:percentile(50), latency:percentile(99), summary.requests, summary.duration))
  for _, t in ipairs(threads) do
    if t:get("exhausted") == 1 then io.write(" exhausted=1") end
    for code, count in pairs(t:get("statuses")) do io.write(string.format(" %%d=%%d", code, count)) end
  end
  io.write("\n")
end
`

// wrkResult is what one wrk run measured.
type wrkResult struct {
	P50, P99 time.Duration
	Rate     float64
	Codes    map[string]int
}

// wrkReservations books distinct reservations of the cars bench0..
// bench(cars-1) through target for d with wrk, one thread and 20
// connections: the load generator the issue measured with, which takes a
// few percent of a core where the bench's own Go client takes a quarter
// of one from the system it measures on this two-core machine.
func wrkReservations(ctx context.Context, dir string, target string, header http.Header, cars int, d time.Duration) (wrkResult, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk is not installed (apt-get install wrk)")
	}
	u, err := url.Parse(target)
	if err != nil {
		return wrkResult{}, err
	}
	body := strings.ReplaceAll(reservationBody, "{{n}}", "%d")
	script := filepath.Join(dir, "reservations.lua")
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, cars-20, body, u.Path), 0o644); err != nil {
		return wrkResult{}, err
	}
	args := []string{"-t1", "-c20", "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--timeout", "30s", "-s", script, "-H", "Content-Type: application/json"}
	for k, vs := range header {
		for _, v := range vs {
			args = append(args, "-H", k+": "+v)
		}
	}
	u.Path = ""
	cmd := exec.CommandContext(ctx, bin, append(args, u.String())...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseWrk(out)
}

// parseWrk reads done's line: latencies and duration in microseconds.
func parseWrk(out []byte) (wrkResult, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields, ok := strings.CutPrefix(sc.Text(), "BENCH ")
		if !ok {
			continue
		}
		r := wrkResult{Codes: map[string]int{}}
		var requests, duration float64
		for _, f := range strings.Fields(fields) {
			k, v, _ := strings.Cut(f, "=")
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return wrkResult{}, fmt.Errorf("wrk: %q: %w", f, err)
			}
			switch k {
			case "p50":
				r.P50 = time.Duration(x) * time.Microsecond
			case "p99":
				r.P99 = time.Duration(x) * time.Microsecond
			case "requests":
				requests = x
			case "duration":
				duration = x
			case "exhausted":
				return wrkResult{}, fmt.Errorf("wrk booked every car before its time ran out: register more")
			default:
				r.Codes[k] = int(x)
			}
		}
		if duration > 0 {
			r.Rate = requests / (duration / 1e6)
		}
		return r, nil
	}
	return wrkResult{}, fmt.Errorf("wrk printed no summary: %s", out)
}
