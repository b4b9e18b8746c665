// Package loadgen is a siege-style load generator built on vegeta's
// attacker: -c simulated users each send a request as soon as their previous
// one is answered (siege's closed loop), for -t time or -r repetitions, and
// the summary reads like siege's with percentiles and status codes added.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Options describe one load run.
type Options struct {
	Concurrency int           // -c: simulated users
	Header      http.Header   // -H: extra headers on every request
	Duration    time.Duration // -t: how long (siege's -t30S is 30s here)
	Reps        int           // -r: requests per user; with -t, whichever ends first
	// Rate is requests per second from all users together (-rate); 0 is
	// siege's closed loop, each user firing again as soon as answered.
	// Steady traffic that must not itself overload what it watches (a
	// rollout, a drain) is paced.
	Rate        int
	Timeout     time.Duration // per request
	Verbose     bool          // -v: one line per response
	Method      string
	URL         string
	Body        []byte
	ContentType string
	// LocalIP is the source address of the connections (nil: the
	// system's choice). Loopback aliases (127.0.0.2, ...) make several
	// clients of one machine, as a per-client limit sees them.
	LocalIP net.IP
}

// MaxConcurrency bounds -c: loopback ports and memory on a small machine.
const MaxConcurrency = 2000

// ParseArgs reads `[flags] [METHOD] URL [BODY]`.
func ParseArgs(args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{}
	fs.IntVar(&o.Concurrency, "c", 10, "concurrent users")
	fs.DurationVar(&o.Duration, "t", 0, "duration, e.g. 30s (0: until -r is reached)")
	fs.IntVar(&o.Reps, "r", 0, "repetitions per user (0: until -t is reached)")
	fs.IntVar(&o.Rate, "rate", 0, "requests per second from all users (0: each user fires again at once, like siege)")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.BoolVar(&o.Verbose, "v", false, "print one line per response")
	fs.StringVar(&o.ContentType, "content-type", "application/json", "Content-Type of the body")
	fs.Func("H", "extra request header, like curl's: -H 'Authorization: Bearer …' (repeatable)", func(v string) error {
		k, val, ok := strings.Cut(v, ":")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("header %q: want 'Name: value'", v)
		}
		if o.Header == nil {
			o.Header = http.Header{}
		}
		o.Header.Add(strings.TrimSpace(k), strings.TrimSpace(val))
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: load [-c N] [-t DURATION] [-r N] [-rate N] [-H 'Name: value'] [-v] [METHOD] URL [BODY]")
		fmt.Fprintln(stderr, "{{n}} in URL or BODY becomes each request's sequence number.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	rest := fs.Args()
	o.Method = http.MethodGet
	if len(rest) > 0 && isMethod(rest[0]) {
		o.Method, rest = strings.ToUpper(rest[0]), rest[1:]
	}
	switch len(rest) {
	case 1:
		o.URL = rest[0]
	case 2:
		o.URL, o.Body = rest[0], []byte(rest[1])
	default:
		fs.Usage()
		return o, errors.New("want [METHOD] URL [BODY]")
	}
	return o, o.validate()
}

func isMethod(s string) bool {
	switch strings.ToUpper(s) {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
		return true
	}
	return false
}

func (o Options) validate() error {
	if o.Concurrency < 1 || o.Concurrency > MaxConcurrency {
		return fmt.Errorf("-c %d: want 1 to %d", o.Concurrency, MaxConcurrency)
	}
	if o.Duration <= 0 && o.Reps <= 0 {
		return errors.New("give -t DURATION or -r REPETITIONS (a run must end by itself)")
	}
	if o.Duration < 0 || o.Reps < 0 || o.Timeout <= 0 || o.Rate < 0 {
		return errors.New("-t, -r, -rate and -timeout must be positive")
	}
	if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
		return fmt.Errorf("URL %q: want http:// or https://", o.URL)
	}
	return nil
}

// Summary is the outcome of a run.
type Summary struct {
	Transactions uint64
	Elapsed      time.Duration
	Availability float64 // share of requests answered without a transport error or a 5xx
	Success      float64 // share answered 2xx or 3xx
	Rate         float64 // transactions per second
	BytesIn      uint64
	Mean, P50    time.Duration
	P90, P99     time.Duration
	Longest      time.Duration
	Shortest     time.Duration
	StatusCodes  map[string]int // "0" counts transport errors
	Errors       []string
}

// Run sends the load and writes the summary (and, with Verbose, a line per
// response) to out. It stops early when ctx is done.
func Run(ctx context.Context, o Options, out io.Writer) (Summary, error) {
	if err := o.validate(); err != nil {
		return Summary{}, err
	}
	header := o.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if len(o.Body) > 0 {
		header.Set("Content-Type", o.ContentType)
	}
	targeter := sequenceTargeter(vegeta.Target{Method: o.Method, URL: o.URL, Body: o.Body, Header: header})
	users := uint64(o.Concurrency)
	opts := []func(*vegeta.Attacker){
		vegeta.Workers(users), vegeta.MaxWorkers(users),
		vegeta.Connections(o.Concurrency), vegeta.MaxConnections(o.Concurrency),
		vegeta.Timeout(o.Timeout), vegeta.KeepAlive(true), vegeta.Redirects(vegeta.NoFollow),
	}
	if o.LocalIP != nil {
		opts = append(opts, vegeta.LocalAddr(net.IPAddr{IP: o.LocalIP}))
	}
	attacker := vegeta.NewAttacker(opts...)
	total := uint64(o.Reps) * users
	// Rate 0 with a fixed worker pool is siege's closed loop: each user
	// fires again as soon as its previous response arrived.
	var pacer vegeta.Pacer = closedLoop{total: total}
	if o.Rate > 0 {
		pacer = paced{ConstantPacer: vegeta.ConstantPacer{Freq: o.Rate, Per: time.Second}, total: total}
	}
	go func() { <-ctx.Done(); attacker.Stop() }()

	var m vegeta.Metrics
	codes := map[string]int{}
	var available uint64
	for res := range attacker.Attack(targeter, pacer, o.Duration, "load") {
		m.Add(res)
		codes[fmt.Sprint(res.Code)]++
		if res.Error == "" && res.Code > 0 && res.Code < 500 {
			available++
		}
		if o.Verbose {
			fmt.Fprintf(out, "HTTP/1.1 %3d %6.2f secs: %7d bytes ==> %s %s\n",
				res.Code, res.Latency.Seconds(), res.BytesIn, o.Method, o.URL)
		}
	}
	m.Close()
	s := Summary{
		Transactions: m.Requests, Elapsed: m.Duration + m.Wait, Success: m.Success,
		BytesIn: m.BytesIn.Total, Mean: m.Latencies.Mean, P50: m.Latencies.P50,
		P90: m.Latencies.P90, P99: m.Latencies.P99, Longest: m.Latencies.Max,
		Shortest: m.Latencies.Min, StatusCodes: codes, Errors: m.Errors,
	}
	if m.Requests > 0 {
		s.Availability = float64(available) / float64(m.Requests)
	}
	if s.Elapsed > 0 {
		s.Rate = float64(m.Requests) / s.Elapsed.Seconds()
	}
	s.Write(out)
	return s, nil
}

// Placeholder in the URL or body is replaced by the request's sequence
// number (0, 1, 2, ...), so a run can create distinct resources:
// '{"carNo":"bench{{n}}",...}'.
const Placeholder = "{{n}}"

func sequenceTargeter(t vegeta.Target) vegeta.Targeter {
	if !strings.Contains(t.URL, Placeholder) && !bytes.Contains(t.Body, []byte(Placeholder)) {
		return vegeta.NewStaticTargeter(t)
	}
	var seq atomic.Int64
	return func(out *vegeta.Target) error {
		n := strconv.FormatInt(seq.Add(1)-1, 10)
		*out = t
		out.URL = strings.ReplaceAll(t.URL, Placeholder, n)
		out.Body = bytes.ReplaceAll(t.Body, []byte(Placeholder), []byte(n))
		return nil
	}
}

// closedLoop paces nothing and stops after total hits (0: never).
type closedLoop struct{ total uint64 }

func (c closedLoop) Pace(_ time.Duration, hits uint64) (time.Duration, bool) {
	return 0, c.total > 0 && hits >= c.total
}

func (closedLoop) Rate(time.Duration) float64 { return 0 }

// paced spreads hits evenly at a constant rate and stops after total
// hits (0: never).
type paced struct {
	vegeta.ConstantPacer
	total uint64
}

func (p paced) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.total > 0 && hits >= p.total {
		return 0, true
	}
	return p.ConstantPacer.Pace(elapsed, hits)
}

// Write prints the summary in siege's shape.
func (s Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "\nTransactions:              %12d hits\n", s.Transactions)
	fmt.Fprintf(w, "Availability:              %12.2f %%\n", 100*s.Availability)
	fmt.Fprintf(w, "Success (2xx/3xx):         %12.2f %%\n", 100*s.Success)
	fmt.Fprintf(w, "Elapsed time:              %12.2f secs\n", s.Elapsed.Seconds())
	fmt.Fprintf(w, "Data transferred:          %12.2f MB\n", float64(s.BytesIn)/1e6)
	fmt.Fprintf(w, "Transaction rate:          %12.2f trans/sec\n", s.Rate)
	fmt.Fprintf(w, "Response time (mean):      %12.4f secs\n", s.Mean.Seconds())
	fmt.Fprintf(w, "Response time p50/p90/p99: %8.4f / %.4f / %.4f secs\n", s.P50.Seconds(), s.P90.Seconds(), s.P99.Seconds())
	fmt.Fprintf(w, "Longest transaction:       %12.4f secs\n", s.Longest.Seconds())
	fmt.Fprintf(w, "Shortest transaction:      %12.4f secs\n", s.Shortest.Seconds())
	codes := make([]string, 0, len(s.StatusCodes))
	for c := range s.StatusCodes {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		label := c
		if c == "0" {
			label = "transport-error"
		}
		parts = append(parts, fmt.Sprintf("%s=%d", label, s.StatusCodes[c]))
	}
	fmt.Fprintf(w, "Status codes:              %s\n", strings.Join(parts, " "))
	for i, e := range s.Errors {
		if i == 5 {
			fmt.Fprintf(w, "  ... %d more errors\n", len(s.Errors)-5)
			break
		}
		fmt.Fprintf(w, "Error: %s\n", e)
	}
}
