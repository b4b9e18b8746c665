// Package testbed runs a real Kubernetes API server on loopback — etcd and
// kube-apiserver built from their Go modules (scripts/build-tools) — so
// tests can prove that Kubernetes and Istio accept what infra/ declares,
// with no cloud, no Docker and no kubelet.
package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Tools are the binaries the test bed runs, and those the single node
// (node.go) runs besides.
type Tools struct {
	Etcd, KubeAPIServer, KubeControllerManager string
	// The node's: FindTools fills them in without requiring them (the test
	// bed does not need them); CheckNode does.
	KubeScheduler, Kubelet, KubeProxy, Kubectl, CoreDNS string
	CNIDir                                              string // bridge, host-local, loopback, portmap
}

// CheckNode reports which of the node's binaries are missing, and the
// scripts/build-tools call that builds them.
func (t Tools) CheckNode() error {
	need := map[string]string{
		t.Etcd: "etcd", t.KubeAPIServer: "kubernetes", t.KubeControllerManager: "kubernetes",
		t.KubeScheduler: "kubernetes", t.Kubelet: "kubernetes", t.KubeProxy: "kubernetes", t.Kubectl: "kubernetes",
		t.CoreDNS: "coredns",
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		need[filepath.Join(t.CNIDir, p)] = "cni-plugins"
	}
	var missing []string
	builds := map[string]bool{}
	for bin, tool := range need {
		if _, err := os.Stat(bin); err != nil {
			missing = append(missing, bin)
			builds[tool] = true
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	var tools []string
	for _, tool := range []string{"etcd", "kubernetes", "coredns", "cni-plugins"} {
		if builds[tool] {
			tools = append(tools, tool)
		}
	}
	return fmt.Errorf("missing %s (run scripts/build-tools %s)", strings.Join(missing, ", "), strings.Join(tools, " "))
}

// FindTools looks for the binaries in $CARRENTAL_TOOLS (a directory) or in
// the cache scripts/build-tools fills.
func FindTools() (Tools, error) {
	dir := os.Getenv("CARRENTAL_TOOLS")
	if dir == "" {
		cache := os.Getenv("CARRENTAL_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "carrental")
		}
		dir = filepath.Join(cache, "tools", "bin")
	}
	t := Tools{Etcd: filepath.Join(dir, "etcd"), KubeAPIServer: filepath.Join(dir, "kube-apiserver"),
		KubeControllerManager: filepath.Join(dir, "kube-controller-manager"),
		KubeScheduler:         filepath.Join(dir, "kube-scheduler"), Kubelet: filepath.Join(dir, "kubelet"),
		KubeProxy: filepath.Join(dir, "kube-proxy"), Kubectl: filepath.Join(dir, "kubectl"),
		CoreDNS: filepath.Join(dir, "coredns"), CNIDir: filepath.Join(dir, "cni")}
	for _, b := range []string{t.Etcd, t.KubeAPIServer, t.KubeControllerManager} {
		if _, err := os.Stat(b); err != nil {
			return t, fmt.Errorf("%s missing (run scripts/build-tools): %w", b, err)
		}
	}
	return t, nil
}

// Cluster is a running etcd + kube-apiserver.
type Cluster struct {
	URL        string // https://127.0.0.1:<port>
	Token      string // bearer token of a system:masters user
	Kubeconfig string // path of a kubeconfig for it
	dir        string
	procs      []*exec.Cmd
}

// Start runs etcd and kube-apiserver under dir and waits until the API
// server is ready. Stop it with Stop.
func Start(ctx context.Context, tools Tools, dir string) (*Cluster, error) {
	c := &Cluster{dir: dir, Token: "carrental-testbed-admin"}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	etcdClient, etcdPeer, apiPort := freePort(), freePort(), freePort()
	if err := c.run(ctx, "etcd", tools.Etcd,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--advertise-client-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-advertise-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", etcdPeer),
		"--initial-cluster", fmt.Sprintf("default=http://127.0.0.1:%d", etcdPeer),
		"--log-level", "warn",
	); err != nil {
		return nil, err
	}
	if err := writeServiceAccountKey(dir); err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(c.Token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return nil, err
	}
	if err := c.run(ctx, "kube-apiserver", tools.KubeAPIServer,
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", etcdClient),
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", fmt.Sprint(apiPort),
		"--cert-dir", filepath.Join(dir, "certs"),
		"--token-auth-file", tokens,
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--enable-priority-and-fairness=false",
		"--v", "0",
	); err != nil {
		return nil, err
	}
	c.URL = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := c.waitReady(ctx, 90*time.Second); err != nil {
		return nil, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, []byte(c.kubeconfig()), 0o600); err != nil {
		return nil, err
	}
	// The garbage collector and the namespace controller: without them a
	// deleted object with finalizers (foreground deletion, a namespace)
	// never goes away. No kubelet runs, so no pod ever starts.
	if err := c.run(ctx, "kube-controller-manager", tools.KubeControllerManager,
		"--kubeconfig", c.Kubeconfig,
		"--controllers", "namespace,garbagecollector",
		"--leader-elect=false",
		"--secure-port=0",
		"--service-account-private-key-file", filepath.Join(dir, "sa.key"),
		"--use-service-account-credentials=false",
		"--v", "0",
	); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func (c *Cluster) run(ctx context.Context, name, bin string, args ...string) error {
	logf, err := os.Create(filepath.Join(c.dir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	c.procs = append(c.procs, cmd)
	return nil
}

// Log returns the tail of a component's log, for failure messages.
func (c *Cluster) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(c.dir, name+".log"))
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// Client is an HTTP client authenticated as the admin (the serving
// certificate is self-signed).
func (c *Cluster) Client() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &bearer{token: c.Token, next: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // self-signed, loopback only
	}}}
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func (c *Cluster) waitReady(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	client := c.Client()
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.URL+"/readyz", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Errorf("readyz %d", resp.StatusCode)
		} else {
			last = err
		}
		for _, p := range c.procs {
			if p.ProcessState != nil {
				return errors.New("a component exited")
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: %v\n%s", within, last, c.Log("kube-apiserver"))
}

// Stop ends both processes.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
	c.procs = nil
}

func (c *Cluster) kubeconfig() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: testbed
  context: {cluster: testbed, user: admin}
current-context: testbed
`, c.URL, c.Token)
	return b.String()
}

func writeServiceAccountKey(dir string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	if err := os.WriteFile(filepath.Join(dir, "sa.key"), priv, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "sa.pub"), pub, 0o644)
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
