// Package natstest starts NATS servers for tests, each on a free loopback
// port so tests never touch the machine's own server on 4222: an embedded
// one (fast, in-process) and a real nats-server process.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/carrental/carrental/svc/platform/nats"
)

// Embedded starts an in-process JetStream server and returns its URL.
func Embedded(t testing.TB) string {
	t.Helper()
	ns, err := nats.StartEmbedded(t.TempDir(), "127.0.0.1", -1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns.ClientURL()
}

// Process starts a real nats-server process with JetStream and returns its
// URL. The binary is NATS_SERVER_BIN, else nats-server on PATH or in
// /usr/sbin, else one built from the nats-server module this repository
// already depends on (cached in the user cache directory).
func Process(t testing.TB) string {
	t.Helper()
	bin, err := serverBinary()
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	port := freePort(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "nats-server.log")
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", dir, "-l", logPath)
	if err := cmd.Start(); err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("nats-server on %s did not start: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "nats://" + addr
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

func serverBinary() (string, error) {
	if b := os.Getenv("NATS_SERVER_BIN"); b != "" {
		return b, nil
	}
	if b, err := exec.LookPath("nats-server"); err == nil {
		return b, nil
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server", nil
	}
	buildOnce.Do(func() { built, buildErr = buildFromModule() })
	return built, buildErr
}

func buildFromModule() (string, error) {
	version := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/nats-io/nats-server/v2" {
				version = dep.Version
			}
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, "carrental", "bin", "nats-server-"+version)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	cmd := exec.Command("go", "build", "-o", out, "github.com/nats-io/nats-server/v2")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build from module: %w", err)
	}
	return out, nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Cluster starts n in-process JetStream servers routed into one cluster,
// each on free loopback ports, and returns them once JetStream has a meta
// leader. A test stops one with Shutdown to see what losing it costs.
func Cluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	clusterPorts := make([]int, n)
	for i := range clusterPorts {
		clusterPorts[i] = freePort(t)
	}
	var routes []*url.URL
	for _, p := range clusterPorts {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "test", Host: "127.0.0.1", Port: clusterPorts[i]},
			Routes:     routes,
			NoSigs:     true,
			NoLog:      true,
		})
		if err != nil {
			t.Fatal(err)
		}
		go ns.Start()
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
		servers[i] = ns
	}
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for {
		leader := false
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				leader = true
			}
		}
		if leader {
			t.Logf("a JetStream cluster of %d elected its meta leader in %s", n, time.Since(start).Round(time.Millisecond))
			return servers
		}
		if time.Now().After(deadline) {
			t.Fatalf("a JetStream cluster of %d elected no meta leader in 60s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// URLs is every client URL of servers, the way a client is given a
// cluster (it reconnects to another when one goes).
func URLs(servers []*server.Server) string {
	urls := make([]string, len(servers))
	for i, s := range servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}
