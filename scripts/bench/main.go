// Command bench measures the running system on this machine and prints the
// figures the README and the closing notes quote. Every run starts fresh
// systems (the carrental binary, as its own process) on free loopback
// ports; nothing leaves the machine.
//
//	go run ./scripts/bench            # everything (a few minutes)
//	go run ./scripts/bench -quick     # shorter runs
package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/tools/loadgen"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type config struct {
	duration     time.Duration // each timed run
	bigReps      int           // -r of the 200-client run
	reservations int           // distinct reservations per engine in (b)
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	quick := fs.Bool("quick", false, "shorter runs (smoke)")
	only := fs.String("only", "", "comma-separated subset of: a,b,c,d,e,burst,siege,flood,forged,tracing,auth")
	engines := fs.String("engines", "sqlite,full,postgres", "(b): comma-separated subset of the engines to book on: sqlite, full (SQLite synchronous full), postgres")
	profile := fs.String("profile", "", "directory: write a 5 s CPU profile of the system under each timed load into it (go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// 8000 reservations: at 2000 the run lasted a second and its p99 was
	// the first twenty requests' warm-up as often as not.
	cfg := config{duration: 10 * time.Second, bigReps: 2000, reservations: 8000}
	if *quick {
		cfg = config{duration: 2 * time.Second, bigReps: 20, reservations: 600}
	}
	tmp, err := os.MkdirTemp("", "carrental-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "carrental")
	fmt.Fprintln(out, "building carrental ...")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./svc/cmd/carrental")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return err
	}
	b := &bench{ctx: ctx, out: out, bin: bin, tmp: tmp, cfg: cfg, profileDir: *profile, engines: *engines}
	if b.profileDir != "" {
		if err := os.MkdirAll(b.profileDir, 0o755); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"a", b.throughput}, {"b", b.reservationLatency}, {"c", b.hungPayment},
		{"d", b.flakyPayment}, {"e", b.twoHundredClients}, {"burst", b.burstRecovery}, {"siege", b.siegeCircuitBreaker},
		{"flood", b.flood}, {"forged", b.forgedFlood},
		{"tracing", b.tracingOverhead},
		{"auth", b.authOverhead},
	}
	for _, s := range steps {
		if *only != "" && !listed(*only, s.name) {
			continue
		}
		if err := s.fn(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	fmt.Fprintln(out, "\n== summary ==")
	for _, line := range b.summary {
		fmt.Fprintln(out, line)
	}
	return nil
}

// listed reports whether name is one of list's comma-separated items.
func listed(list, name string) bool {
	return slices.Contains(strings.Split(list, ","), name)
}

type bench struct {
	ctx     context.Context
	out     io.Writer
	bin     string
	tmp     string
	cfg     config
	summary []string
	n       int
	// profileDir, when set, receives a CPU profile of the last started
	// system under each load.
	profileDir string
	engines    string // "sqlite,full,postgres": the ones (b) books on
	last       *system
	profiles   int
}

// system is one carrental process.
type system struct {
	cmd   *exec.Cmd
	urls  map[contract.Service]string
	admin map[contract.Service]string
	staff string // the staff token the ready file names ("" with AUTH_MODE=off)
	bin   string
	dir   string
}

// bearer is the header that makes a request staff's.
func (s *system) bearer() http.Header {
	h := http.Header{}
	if s.staff != "" {
		h.Set("Authorization", "Bearer "+s.staff)
	}
	return h
}

// bearerAs is a header with a token of another subject, minted by
// `carrental token` with the system's key (the flood step's two clients
// are two subjects: the gateway limits each by its token's subject).
func (s *system) bearerAs(role, sub string) (http.Header, error) {
	h := http.Header{}
	if s.staff == "" {
		return h, nil
	}
	out, err := exec.Command(s.bin, "token", "-data", s.dir, "--role", role, "--sub", sub, "--ttl", "2h").Output()
	if err != nil {
		return nil, fmt.Errorf("carrental token: %w", err)
	}
	h.Set("Authorization", "Bearer "+strings.TrimSpace(string(out)))
	return h, nil
}

func (b *bench) start(env ...string) (*system, error) {
	b.n++
	dir := filepath.Join(b.tmp, fmt.Sprintf("sys%d", b.n))
	ready := filepath.Join(dir, "ready.json")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(b.bin, "-data", dir, "-ports", "auto", "-ready-file", ready)
	// Every client of a run comes from one address, which the gateway's
	// per-client limit would hold to its 50 requests a second: the runs
	// measure the system, so it is off unless a run sets it (flood).
	cmd.Env = append(os.Environ(), "LOG_LEVEL=error", contract.EnvRateLimitRPS+"=0")
	cmd.Env = append(cmd.Env, env...)
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw, err := os.ReadFile(ready)
		if err == nil {
			var info struct {
				URLs   map[contract.Service]string `json:"urls"`
				Admin  map[contract.Service]string `json:"admin"`
				Tokens map[string]string           `json:"tokens"`
			}
			if err := json.Unmarshal(raw, &info); err != nil {
				return nil, err
			}
			b.last = &system{cmd: cmd, urls: info.URLs, admin: info.Admin, staff: info.Tokens[contract.RoleStaff], bin: b.bin, dir: dir}
			return b.last, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("system did not start; see %s", filepath.Join(dir, "log"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *system) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// peakRSS is the process's high-water resident set (VmHWM).
func (s *system) peakRSS() string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "n/a"
}

func (b *bench) load(title string, o loadgen.Options) (loadgen.Summary, error) {
	fmt.Fprintf(b.out, "\n-- %s: %s %s (-c %d", title, o.Method, o.URL, o.Concurrency)
	if o.Duration > 0 {
		fmt.Fprintf(b.out, " -t %s", o.Duration)
	}
	if o.Reps > 0 {
		fmt.Fprintf(b.out, " -r %d", o.Reps)
	}
	fmt.Fprintln(b.out, ")")
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if len(o.Body) > 0 && o.ContentType == "" {
		o.ContentType = "application/json"
	}
	defer b.profile(title)()
	return loadgen.Run(b.ctx, o, b.out)
}

// profile starts the next numbered CPU profile of the last started
// system, named after title, when -profile asks for them; the returned
// func waits for it.
func (b *bench) profile(title string) (wait func()) {
	if b.profileDir == "" || b.last == nil {
		return func() {}
	}
	b.profiles++
	return b.profileCPU(fmt.Sprintf("%02d-%s.pprof", b.profiles, slug(title)))
}

// profileCPU starts a 5 s CPU profile of the last started system (one
// process serves every service, so any admin listener profiles all six);
// the returned func waits for it.
func (b *bench) profileCPU(name string) (wait func()) {
	var admin string
	for _, a := range b.last.admin {
		admin = a
		break
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		path := filepath.Join(b.profileDir, name)
		resp, err := http.Get(admin + "/debug/pprof/profile?seconds=5")
		if err != nil {
			fmt.Fprintf(b.out, "profile %s: %v\n", name, err)
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			err = errors.Join(err, f.Close())
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Remove(path) // no half-written or error-page profile left behind
			fmt.Fprintf(b.out, "profile %s: %s %v\n", name, resp.Status, err)
			return
		}
		fmt.Fprintf(b.out, "profile: %s\n", path)
	}()
	return func() { <-done }
}

// slug makes a title a file name.
func slug(title string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, title), "-")
}

func (b *bench) note(format string, args ...any) {
	b.summary = append(b.summary, fmt.Sprintf(format, args...))
}

const (
	carBody         = `{"carNo":"bench{{n}}","rentalAmt":"10000","procStatus":"WAITING","carRegDt":"20200701"}`
	reservationBody = `{"carNo":"bench{{n}}","custNo":"cus01","paymtNo":"pay{{n}}","procStatus":"RESERVED","rentalAmt":"10000","resrvNo":"res{{n}}","resrvDt":"20200801","rentalDt":"20200802","returnDt":"20200805"}`
)

// registerCars creates bench0..bench(n-1) directly on management.
func (b *bench) registerCars(s *system, n int) error {
	clients := 4
	if n%clients != 0 {
		clients = 1
	}
	sum, err := loadgen.Run(b.ctx, loadgen.Options{Header: s.bearer(), Concurrency: clients, Reps: n / clients, Timeout: 10 * time.Second, Method: "POST",
		URL: s.urls[contract.Management] + contract.PathCarManagements, Body: []byte(carBody), ContentType: "application/json"}, io.Discard)
	if err != nil {
		return err
	}
	if sum.StatusCodes["201"] != n {
		return fmt.Errorf("registering %d cars: %v", n, sum.StatusCodes)
	}
	return nil
}

// writeUpPool is the write-up's demo DestinationRule on management (1
// connection + 1 pending request), mirrored in the services; the default
// (serving) profile has no fixed pool.
const writeUpPool = contract.EnvResilienceProfile + "=" + contract.ResilienceWriteUp

func (b *bench) throughput() error {
	hello, err := helloServer()
	if err != nil {
		return err
	}
	defer hello.Close()
	s, err := b.start()
	if err != nil {
		return err
	}
	defer s.stop()
	const cars = 1500
	if err := b.registerCars(s, cars); err != nil {
		return err
	}
	// A bare handler that serves the same bytes as the page, so the ratio
	// measures the stack, not the payload.
	page, err := s.get(s.urls[contract.Management] + contract.PathCarManagements)
	if err != nil {
		return err
	}
	same, err := staticServer(page)
	if err != nil {
		return err
	}
	defer same.Close()
	bypass := s.bearer().Clone()
	if bypass == nil {
		bypass = http.Header{}
	}
	bypass.Set("Cache-Control", "no-cache")
	runs := []struct {
		name, url string
		header    http.Header
	}{
		{"bare net/http hello", "http://" + hello.Addr().String() + "/", s.bearer()},
		{"bare net/http, same page", "http://" + same.Addr().String() + "/", s.bearer()},
		{"management direct", s.urls[contract.Management] + contract.PathCarManagements, s.bearer()},
		{"through the gateway", s.urls[contract.Gateway] + contract.PathCarManagements, s.bearer()},
		// What the gateway's read cache saves: every read proxied.
		{"gateway, cache bypassed", s.urls[contract.Gateway] + contract.PathCarManagements, bypass},
	}
	rates := map[string]float64{}
	for _, r := range runs {
		sum, err := b.load("(a) GET "+r.name, loadgen.Options{Header: r.header, Concurrency: 20, Duration: b.cfg.duration, Method: "GET", URL: r.url})
		if err != nil {
			return err
		}
		rates[r.name] = sum.Rate
		b.note("(a) GET /carManagements (%d cars, first page) %-22s %8.0f req/s  p50 %s  p99 %s  %v", cars, r.name, sum.Rate, ms(sum.P50), ms(sum.P99), sum.StatusCodes)
	}
	for _, bare := range []string{"bare net/http hello", "bare net/http, same page"} {
		if r := rates[bare]; r > 0 {
			b.note("(a) ratio to %-26s management direct %.2fx, through the gateway %.2fx (cache bypassed %.2fx)", bare+":",
				rates["management direct"]/r, rates["through the gateway"]/r, rates["gateway, cache bypassed"]/r)
		}
	}
	return nil
}

// reservationLatency books distinct reservations through the gateway with
// 20 clients, on the default embedded SQLite and on PostgreSQL (the
// machine's, database test, in schemas of this run's own).
func (b *bench) reservationLatency() error {
	type engine struct{ name, env string }
	var engines []engine
	if listed(b.engines, "sqlite") {
		engines = append(engines, engine{"SQLite", ""})
	}
	if listed(b.engines, "full") {
		engines = append(engines, engine{"SQLite full", contract.EnvSQLiteSync + "=full"})
	}
	if listed(b.engines, "postgres") {
		if dsn := postgresDSN(); dsn != "" {
			engines = append(engines, engine{"PostgreSQL", "DATABASE_URL=" + dsn})
		} else {
			b.note("(b) PostgreSQL: skipped, none reachable at %s (scripts/ensure-postgres starts it)", defaultPostgres)
		}
	}
	for _, engine := range engines {
		prefix := fmt.Sprintf("bench%d_", time.Now().UnixNano()%1e9)
		if engine.name == "PostgreSQL" {
			defer dropSchemas(postgresDSN(), prefix)
		}
		s, err := b.start(engine.env, "DATABASE_SCHEMA_PREFIX="+prefix)
		if err != nil {
			return err
		}
		n := b.cfg.reservations
		if err := b.registerCars(s, n); err != nil {
			s.stop()
			return err
		}
		sum, err := b.load("(b) POST /carReservations on "+engine.name, loadgen.Options{Header: s.bearer(), Concurrency: 20, Reps: n / 20, Method: "POST",
			URL: s.urls[contract.Gateway] + contract.PathCarReservations, Body: []byte(reservationBody)})
		s.stop()
		if err != nil {
			return err
		}
		b.note("(b) POST /carReservations on %-12s 20 clients, %d distinct: p50 %s  p99 %s  %.0f req/s  %v", engine.name+",", n, ms(sum.P50), ms(sum.P99), sum.Rate, sum.StatusCodes)
		if err := b.reservationsWithWrk(engine.name, engine.env, "DATABASE_SCHEMA_PREFIX="+prefix+"wrk_"); err != nil {
			return err
		}
	}
	return nil
}

// reservationsWithWrk repeats (b) on a fresh system with wrk as the
// client, when it is installed.
func (b *bench) reservationsWithWrk(engine string, env ...string) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.note("(b) %s with wrk: skipped, wrk is not installed (apt-get install wrk)", engine)
		return nil
	}
	s, err := b.start(env...)
	if err != nil {
		return err
	}
	defer s.stop()
	// wrk runs for a time, not a count: enough cars for 4 000 a second.
	d := 5 * time.Second
	if b.cfg.duration < d {
		d = b.cfg.duration
	}
	cars := 4000 * int(d.Seconds())
	if err := b.registerCars(s, cars); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "\n-- (b) POST /carReservations on %s with wrk -t1 -c20 -d %s, distinct\n", engine, d)
	defer b.profile("(b) wrk " + engine)()
	r, err := wrkReservations(b.ctx, s.dir, s.urls[contract.Gateway]+contract.PathCarReservations, s.bearer(), cars, d)
	if err != nil {
		return err
	}
	b.note("(b) POST /carReservations on %-12s wrk -c20 for %s, distinct: p50 %s  p99 %s  %.0f req/s  %v", engine+",", d, ms(r.P50), ms(r.P99), r.Rate, r.Codes)
	return nil
}

// tracingOverhead books distinct reservations through the gateway with
// tracing off, in its default (trace IDs made and propagated, no span
// recorded) and exporting every span over OTLP/HTTP to a sink in this
// process that accepts and drops them.
func (b *bench) tracingOverhead() error {
	var requests, received atomic.Int64
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer sink.Close()
	go http.Serve(sink, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		requests.Add(1)
		received.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	n := 2000
	if b.cfg.bigReps < 100 { // -quick
		n = 600
	}
	for _, mode := range []struct {
		name string
		env  []string
	}{
		{"off", []string{contract.EnvOTelSDKDisabled + "=true"}},
		{"IDs only", []string{contract.EnvOTelSDKDisabled + "=false", contract.EnvTracesExporter + "=none"}},
		{"exporting", []string{contract.EnvOTelSDKDisabled + "=false", contract.EnvTracesExporter + "=otlp",
			contract.EnvOTLPEndpoint + "=http://" + sink.Addr().String(), contract.EnvOTLPProtocol + "=" + contract.OTLPProtocolHTTP,
			contract.EnvTracesSampler + "=always_on"}},
	} {
		s, err := b.start(mode.env...)
		if err != nil {
			return err
		}
		if err := b.registerCars(s, n); err != nil {
			s.stop()
			return err
		}
		before := requests.Load()
		sum, err := b.load("(tracing) POST /carReservations, tracing "+mode.name, loadgen.Options{Header: s.bearer(), Concurrency: 20, Reps: n / 20, Method: "POST",
			URL: s.urls[contract.Gateway] + contract.PathCarReservations, Body: []byte(reservationBody)})
		s.stop() // flushes the exporters
		if err != nil {
			return err
		}
		exported := ""
		if got := requests.Load() - before; got > 0 {
			exported = fmt.Sprintf("  (%d OTLP exports since the load began, %d KiB in all)", got, received.Load()>>10)
		}
		b.note("(tracing) POST /carReservations, tracing %-10s 20 clients, %d distinct: p50 %s  p99 %s  %.0f req/s  %v%s",
			mode.name+":", n, ms(sum.P50), ms(sum.P99), sum.Rate, sum.StatusCodes, exported)
	}
	return nil
}

// burstRecovery sends 20 concurrent reservations for 20 cars, then one
// more, and times how soon after the burst that one succeeds: under the
// write-up's pool most of the burst is shed, and the next request must
// not find the API down.
func (b *bench) burstRecovery() error {
	for _, variant := range []struct{ name, env string }{{"serving", ""}, {"write-up's pool", writeUpPool}} {
		s, err := b.start(variant.env)
		if err != nil {
			return err
		}
		if err := b.registerCars(s, 21); err != nil {
			s.stop()
			return err
		}
		sum, err := loadgen.Run(b.ctx, loadgen.Options{Header: s.bearer(), Concurrency: 20, Reps: 1, Timeout: 30 * time.Second, Method: "POST",
			URL: s.urls[contract.Gateway] + contract.PathCarReservations, Body: []byte(reservationBody), ContentType: "application/json"}, io.Discard)
		if err != nil {
			s.stop()
			return err
		}
		end := time.Now()
		body := strings.NewReplacer("{{n}}", "20").Replace(reservationBody)
		var recovered time.Duration
		for time.Since(end) < time.Minute {
			req, _ := http.NewRequest("POST", s.urls[contract.Gateway]+contract.PathCarReservations, strings.NewReader(body))
			req.Header = s.bearer()
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					recovered = time.Since(end)
					break
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.stop()
		if recovered == 0 {
			b.note("(burst) %-16s burst %v; no success within a minute after it", variant.name+":", sum.StatusCodes)
			continue
		}
		b.note("(burst) %-16s 20 concurrent reservations answered %v; the next one succeeded %s after the burst", variant.name+":", sum.StatusCodes, ms(recovered))
	}
	return nil
}

// dropSchemas removes the services' schemas a PostgreSQL run made.
func dropSchemas(dsn, prefix string) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return
	}
	defer db.Close()
	for _, svc := range contract.Services() {
		_, _ = db.Exec(`DROP SCHEMA IF EXISTS "` + prefix + string(svc) + `" CASCADE`)
	}
}

const defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgresDSN is CARRENTAL_TEST_POSTGRES or the machine's PostgreSQL, if
// it answers.
func postgresDSN() string {
	dsn := os.Getenv("CARRENTAL_TEST_POSTGRES")
	if dsn == "" {
		dsn = defaultPostgres
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:5432", time.Second)
	if err != nil && os.Getenv("CARRENTAL_TEST_POSTGRES") == "" {
		return ""
	}
	if c != nil {
		c.Close()
	}
	return dsn
}

func (b *bench) setFault(s *system, svc contract.Service, body string) error {
	req, _ := http.NewRequest("PUT", s.admin[svc]+"/fault", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("fault %s: %d", body, resp.StatusCode)
	}
	return nil
}

func (b *bench) hungPayment() error {
	for _, variant := range []struct{ name, env string }{
		{"with breaker", ""},
		{"without breaker", "RESILIENCE_PAYMENT_BREAKER_FAILURES=1000000"},
	} {
		// Straight at reservation: the gateway's own breaker would
		// otherwise hide what reservation's breaker on payment does.
		s, err := b.start(variant.env)
		if err != nil {
			return err
		}
		if err := b.registerCars(s, 2000); err != nil {
			s.stop()
			return err
		}
		if err := b.setFault(s, contract.Payment, `{"hang":true}`); err != nil {
			s.stop()
			return err
		}
		// One reservation per registered car; without a breaker each call
		// waits out every try, so that run is bounded by time instead.
		o := loadgen.Options{Header: s.bearer(), Concurrency: 20, Reps: 2000 / 20, Method: "POST",
			URL: s.urls[contract.Reservation] + contract.PathCarReservations, Body: []byte(reservationBody)}
		if variant.env != "" {
			o.Reps, o.Duration = 0, b.cfg.duration
		}
		sum, err := b.load("(c) payment hung, "+variant.name, o)
		s.stop()
		if err != nil {
			return err
		}
		b.note("(c) payment hung, %-16s POST /carReservations on reservation: p50 %s  p99 %s  %d requests  %v", variant.name+":", ms(sum.P50), ms(sum.P99), sum.Transactions, sum.StatusCodes)
	}
	return nil
}

func (b *bench) flakyPayment() error {
	for _, variant := range []struct{ name, env string }{
		{"with retries", ""},
		{"without retries", "RESILIENCE_PAYMENT_RETRIES=0"},
	} {
		// The breaker would open on a run of failures; keep it out of this
		// comparison so it measures retries alone.
		s, err := b.start(variant.env, "RESILIENCE_PAYMENT_BREAKER_FAILURES=1000000")
		if err != nil {
			return err
		}
		const n = 400
		if err := b.registerCars(s, n); err != nil {
			s.stop()
			return err
		}
		if err := b.setFault(s, contract.Payment, `{"errorRate":0.3,"errorStatus":500}`); err != nil {
			s.stop()
			return err
		}
		sum, err := b.load("(d) payment fails 30%, "+variant.name, loadgen.Options{Header: s.bearer(), Concurrency: 20, Reps: n / 20, Method: "POST",
			URL: s.urls[contract.Reservation] + contract.PathCarReservations, Body: []byte(reservationBody)})
		s.stop()
		if err != nil {
			return err
		}
		b.note("(d) payment fails 30%%, %-16s POST /carReservations on reservation: success %.1f%%  p99 %s  %v", variant.name+":", 100*sum.Success, ms(sum.P99), sum.StatusCodes)
	}
	return nil
}

func (b *bench) twoHundredClients() error {
	s, err := b.start()
	if err != nil {
		return err
	}
	defer s.stop()
	if err := b.registerCars(s, 3); err != nil {
		return err
	}
	sum, err := b.load("(e) the write-up's siege -r 2000 -c 200", loadgen.Options{Header: s.bearer(), Concurrency: 200, Reps: b.cfg.bigReps, Method: "GET",
		URL: s.urls[contract.Gateway] + contract.PathCarManagements})
	if err != nil {
		return err
	}
	b.note("(e) GET /carManagements -c 200 -r %d: %d requests, %.0f req/s, availability %.2f%%, errors %d, p99 %s, peak RSS %s",
		b.cfg.bigReps, sum.Transactions, sum.Rate, 100*sum.Availability, len(sum.Errors), ms(sum.P99), s.peakRSS())
	return nil
}

// siegeCircuitBreaker reproduces the write-up's first run: siege -c20 -t30S
// POSTing one car, with the DestinationRule's pool mirrored in the gateway
// (the write-up's profile), and with the default.
func (b *bench) siegeCircuitBreaker() error {
	for _, variant := range []struct{ name, env string }{
		{"pool of 1+1 (the write-up's DestinationRule)", writeUpPool},
		{"serving default (no fixed pool)", ""},
	} {
		s, err := b.start(variant.env)
		if err != nil {
			return err
		}
		sum, err := b.load("siege -c20 POST /carManagements, "+variant.name, loadgen.Options{Header: s.bearer(), Concurrency: 20, Duration: b.cfg.duration, Method: "POST",
			URL:  s.urls[contract.Gateway] + contract.PathCarManagements,
			Body: []byte(`{"carNo":"test", "rentalAmt":"10000", "procStatus":"WAITING", "carRegDt":"20200701"}`)})
		s.stop()
		if err != nil {
			return err
		}
		b.note("siege -c20 POST /carManagements, %-40s %d requests, %v, p99 %s", variant.name+":", sum.Transactions, sum.StatusCodes, ms(sum.P99))
	}
	return nil
}

// flood measures one normal client (127.0.0.2, 20 requests a second)
// alone, then beside a flooder (127.0.0.3, 50 connections each firing
// again as soon as answered), with the gateway's per-client limits at
// their defaults and, for comparison, with the rate limit off (fair
// admission alone).
func (b *bench) flood() error { return b.floodWith(false) }

// forgedFlood is flood with forged tokens: every one of them is refused,
// before the client's bucket, so what bounds their cost is the refusal
// guard (limits on) or nothing (limits off: each is checked).
func (b *bench) forgedFlood() error { return b.floodWith(true) }

// forged is a valid token with one byte of its signature changed: the
// issuer's kid and well-formed ES256, so refusing it costs the full
// signature check a forger would make the gateway do.
func forged(header http.Header) (http.Header, error) {
	parts := strings.Split(strings.TrimPrefix(header.Get("Authorization"), "Bearer "), ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("forge: not a JWS compact token")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("forge: signature: %v", err)
	}
	sig[len(sig)/2] ^= 0xff
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return http.Header{"Authorization": {"Bearer " + strings.Join(parts, ".")}}, nil
}

func (b *bench) floodWith(forgedTokens bool) error {
	normalIP, flooderIP := net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)
	step := "flood"
	if forgedTokens {
		step = "forged"
	}
	for _, variant := range []struct{ name, env string }{
		{"limits on (50/s, burst 100)", fmt.Sprintf("%s=%d", contract.EnvRateLimitRPS, 50)},
		{"rate limit off", contract.EnvRateLimitRPS + "=0"},
	} {
		s, err := b.start(variant.env)
		if err != nil {
			return err
		}
		if err := b.registerCars(s, 20); err != nil {
			s.stop()
			return err
		}
		url := s.urls[contract.Gateway] + contract.PathCarManagements + "/bench7"
		normal := loadgen.Options{Header: s.bearer(), Concurrency: 1, Rate: 20, Duration: b.cfg.duration, Timeout: 30 * time.Second, Method: "GET", URL: url, LocalIP: normalIP}
		alone, err := b.load("("+step+") normal client alone, "+variant.name, normal)
		if err != nil {
			s.stop()
			return err
		}
		fmt.Fprintf(b.out, "\n-- (%s) normal client beside a 50-connection flooder, %s\n", step, variant.name)
		flooderHeader, err := s.bearerAs(contract.RoleStaff, "flooder")
		if err != nil {
			s.stop()
			return err
		}
		if forgedTokens {
			if flooderHeader, err = forged(flooderHeader); err != nil {
				s.stop()
				return err
			}
		}
		flooder := loadgen.Options{Header: flooderHeader, Concurrency: 50, Duration: b.cfg.duration, Timeout: 30 * time.Second, Method: "GET", URL: url, LocalIP: flooderIP}
		floodc := make(chan loadgen.Summary, 1)
		errc := make(chan error, 1)
		go func() {
			sum, err := loadgen.Run(b.ctx, flooder, io.Discard)
			errc <- err
			floodc <- sum
		}()
		beside, err := loadgen.Run(b.ctx, normal, io.Discard)
		ferr := <-errc
		fsum := <-floodc
		s.stop()
		if err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
		b.note("(%s) %-28s normal client alone: p50 %s  p99 %s  %v", step, variant.name+":", ms(alone.P50), ms(alone.P99), alone.StatusCodes)
		b.note("(%s) %-28s beside the flooder:  p50 %s  p99 %s  %v; flooder %d requests (%.0f/s): %d served, %d refused 401, %d refused 429, %v",
			step, variant.name+":", ms(beside.P50), ms(beside.P99), beside.StatusCodes, fsum.Transactions, fsum.Rate,
			fsum.StatusCodes["200"], fsum.StatusCodes["401"], fsum.StatusCodes["429"], fsum.StatusCodes)
	}
	return nil
}

// authOverhead is what checking identities costs: a customer reading
// their own reservation through the gateway (the gateway and reservation
// each verify the ES256 token), with AUTH_MODE=jwt and with it off.
func (b *bench) authOverhead() error {
	for _, mode := range []string{contract.AuthJWT, contract.AuthOff} {
		s, err := b.start(contract.EnvAuthMode + "=" + mode)
		if err != nil {
			return err
		}
		if err := b.registerCars(s, 1); err != nil {
			s.stop()
			return err
		}
		body := strings.NewReplacer("{{n}}", "0").Replace(reservationBody)
		if _, err := loadgen.Run(b.ctx, loadgen.Options{Header: s.bearer(), Concurrency: 1, Reps: 1, Timeout: 10 * time.Second, Method: "POST",
			URL: s.urls[contract.Gateway] + contract.PathCarReservations, Body: []byte(body), ContentType: "application/json"}, io.Discard); err != nil {
			s.stop()
			return err
		}
		customer, err := s.bearerAs(contract.RoleCustomer, "cus01")
		if err != nil {
			s.stop()
			return err
		}
		sum, err := b.load("(auth) GET /carReservations/res0 as cus01, AUTH_MODE="+mode, loadgen.Options{Header: customer, Concurrency: 20,
			Duration: b.cfg.duration, Method: "GET", URL: s.urls[contract.Gateway] + contract.PathCarReservations + "/res0"})
		s.stop()
		if err != nil {
			return err
		}
		b.note("(auth) AUTH_MODE=%-4s GET own reservation via the gateway: p50 %s  p99 %s  %.0f req/s  %v", mode, ms(sum.P50), ms(sum.P99), sum.Rate, sum.StatusCodes)
	}
	return nil
}

func helloServer() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }))
	return ln, nil
}

// staticServer serves body, as a bare net/http handler.
func staticServer(body []byte) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write(body)
	}))
	return ln, nil
}

func (s *system) get(url string) ([]byte, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = s.bearer()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
