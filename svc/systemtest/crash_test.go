package systemtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/nats/natstest"
)

// cluster runs every service as its own process, like pods.
type cluster struct {
	t       *testing.T
	bin     string
	dir     string
	natsURL string
	addrs   map[contract.Service]string
	procs   map[contract.Service]*exec.Cmd
	mu      sync.Mutex
}

func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("go", "build", "-o", bin+"/")
	for _, s := range contract.Services() {
		cmd.Args = append(cmd.Args, "github.com/carrental/carrental/svc/cmd/"+string(s))
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, bin: buildBinaries(t), dir: t.TempDir(), natsURL: natstest.Process(t),
		addrs: map[contract.Service]string{}, procs: map[contract.Service]*exec.Cmd{}}
	for _, s := range contract.Services() {
		c.addrs[s] = freeAddr(t)
	}
	for _, s := range contract.Services() {
		c.start(s)
	}
	t.Cleanup(func() {
		for _, s := range contract.Services() {
			c.stop(s, syscall.SIGTERM)
		}
	})
	return c
}

func (c *cluster) start(s contract.Service) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, string(s)))
	cmd.Env = []string{
		contract.EnvAddr + "=" + c.addrs[s],
		contract.EnvNATSURL + "=" + c.natsURL,
		contract.EnvDataDir + "=" + filepath.Join(c.dir, string(s)),
		contract.EnvHealthyFile + "=" + filepath.Join(c.dir, string(s)+".healthy"),
		contract.EnvConfigDir + "=" + filepath.Join(c.dir, "config"),
		"SHUTDOWN_DRAIN=2s",
		// This test is about crashes: identities are the other tests' (the
		// one-process run with its local issuer).
		contract.EnvAuthMode + "=" + contract.AuthOff,
		// The DestinationRule's pool of 1+1 calls to management would shed
		// most of this stream before any crash; lift it as the write-up did.
		"RESILIENCE_MANAGEMENT_MAX_CONCURRENT=0",
		// One test client streams and retries faster than a person: the
		// per-client limit is not what this test is about.
		contract.EnvRateLimitRPS + "=0",
	}
	for _, up := range contract.Calls()[s] {
		cmd.Env = append(cmd.Env, contract.EnvURL(up)+"=http://"+c.addrs[up],
			// The breakers open while a victim is down; a short ejection
			// keeps the test about crashes, not about waiting 30s.
			"RESILIENCE_"+strings.ToUpper(string(up))+"_BREAKER_OPEN_FOR=1s")
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, string(s)+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.procs[s] = cmd
	c.mu.Unlock()
	eventually(c.t, string(s)+" ready", func() error {
		r, err := newAPI(c.t, "http://"+c.addrs[s]).do("GET", contract.PathReadyz, "")
		if err != nil {
			return err
		}
		if r.Status != 200 {
			return fmt.Errorf("readyz %d %s", r.Status, r.Body)
		}
		return nil
	})
}

func (c *cluster) stop(s contract.Service, sig syscall.Signal) {
	c.mu.Lock()
	cmd := c.procs[s]
	delete(c.procs, s)
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Wait()
}

func (c *cluster) logs(s contract.Service) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, string(s)+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// TestCrashMidStream kills services with SIGKILL in the middle of a stream
// of reservations and restarts them. Clients retry what failed with the
// same resrvNo, as the API invites. In the end every reservation that got a
// 2xx is RESERVED everywhere, with exactly one approved payment.
func TestCrashMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs six processes")
	}
	c := newCluster(t)
	gw := newAPI(t, "http://"+c.addrs[contract.Gateway])
	const cars = 40
	for i := 0; i < cars; i++ {
		gw.expect(201, "POST", "/carManagements", fmt.Sprintf(`{"carNo":"crash%02d","rentalAmt":"10000","carRegDt":"20200701"}`, i))
	}
	for i := 0; i < cars; i++ {
		carStatus(t, gw, fmt.Sprintf("crash%02d", i), "WAITING")
	}

	// Four clients send one reservation each at a time and, like real
	// clients, retry a failed one with the same resrvNo until it succeeds.
	var (
		mu       sync.Mutex
		firstTry int
		retries  int
		failures []string
		wg       sync.WaitGroup
		jobs     = make(chan int)
	)
	reserve := func(i int) (reply, error) {
		return gw.do("POST", "/carReservations", reservation(fmt.Sprintf("crashres%02d", i), fmt.Sprintf("crash%02d", i), fmt.Sprintf("crashpay%02d", i)))
	}
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := range jobs {
				deadline := time.Now().Add(60 * time.Second)
				for attempt := 0; ; attempt++ {
					r, err := reserve(i)
					if err == nil && r.Status/100 == 2 {
						mu.Lock()
						if attempt == 0 {
							firstTry++
						}
						retries += attempt
						mu.Unlock()
						break
					}
					if time.Now().After(deadline) {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("#%d: %d %s %v", i, r.Status, r.Body, err))
						mu.Unlock()
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	// Each victim is killed while requests are in flight and comes back a
	// moment later.
	victims := map[int]contract.Service{
		cars / 4:     contract.Reservation, // in the middle of the synchronous flow
		cars / 2:     contract.Management,  // a consumer of the events
		3 * cars / 4: contract.View,        // the read model
	}
	for i := 0; i < cars; i++ {
		if v, ok := victims[i]; ok {
			c.stop(v, syscall.SIGKILL)
			time.Sleep(300 * time.Millisecond)
			c.start(v)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("reservations never succeeded: %q\nreservation log:\n%s", failures, c.logs(contract.Reservation))
	}
	t.Logf("%d of %d reservations succeeded on the first try; %d retries in all", firstTry, cars, retries)

	for i := 0; i < cars; i++ {
		resrvNo, carNo := fmt.Sprintf("crashres%02d", i), fmt.Sprintf("crash%02d", i)
		r := gw.expect(200, "GET", "/carReservations/"+resrvNo, "").Map(t)
		if field(r, "procStatus") != "RESERVED" {
			t.Fatalf("%s: %v", resrvNo, r)
		}
		var payments []map[string]any
		gw.expect(200, "GET", "/payments?resrvNo="+resrvNo, "").JSON(t, &payments)
		if len(payments) != 1 || field(payments[0], "status") != "APPROVED" {
			t.Fatalf("%s: payments %v, want exactly one APPROVED\nreservation log:\n%s", resrvNo, payments, c.logs(contract.Reservation))
		}
		carStatus(t, gw, carNo, "RESERVED")
		eventually(t, "view row of "+carNo, func() error {
			info := gw.call("GET", "/carInformations/"+carNo, "").Map(t)
			if field(info, "resrvNo") != resrvNo || field(info, "paymentStatus") != "APPROVED" {
				return fmt.Errorf("view row %v", info)
			}
			return nil
		})
	}
}
