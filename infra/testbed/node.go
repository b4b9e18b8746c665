package testbed

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// A real single-node Kubernetes on this machine, beside the test bed: the
// test bed (testbed.go) has no kubelet and lives as long as a test; a Node
// runs every component — containerd, etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet, kube-proxy, CoreDNS,
// and a PostgreSQL for the pods (nodepostgres.go) — as detached processes that outlive the command that started them, until
// Down stops them and puts the machine back as it was. scripts/cluster is
// its command line.

// The node's fixed addresses and names. Fixed, not picked at random: pods,
// certificates and the kubeconfig refer to them, and two nodes on one
// machine would fight over the same iptables chains anyway.
const (
	// NodeIP is the node's address, put on lo: this kind of VM has no
	// dummy interfaces, and an address on lo is reachable from the host and,
	// routed through the bridge, from pods — unlike 127.0.0.1.
	NodeIP        = "10.250.0.1"
	NodeName      = "carrental-node"
	ClusterDomain = "cluster.local"
	ServiceCIDR   = "10.96.0.0/16"
	apiServiceIP  = "10.96.0.1"
	// DNSServiceIP is the conventional kube-dns ClusterIP; kube-proxy sends
	// it to CoreDNS, which runs on the host listening on NodeIP.
	DNSServiceIP = "10.96.0.10"
	PodCIDR      = "10.88.0.0/16"
	BridgeName   = "carrental0"
	CNINetwork   = "carrental"
	// PauseImage is the sandbox image, built here (internal/pause): no
	// registry is ever asked for one.
	PauseImage  = "carrental.local/pause:3.10"
	APIPort     = 6443
	corednsUser = "system:coredns"
	etcdClient  = "127.0.0.1:2379" // loopback: pods cannot reach it
	etcdPeer    = "127.0.0.1:2380"
)

// components in start order; Down stops them in the order it needs.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
	"containerd", "kubelet", "kube-proxy", "coredns", "postgres"}

// Node is the single-node cluster whose state lives in Dir.
type Node struct {
	Dir   string
	Tools Tools
	Out   io.Writer // progress; os.Stderr in the command
	// NetworkPolicy makes Up run kube-router's network policy controller
	// (nodenetpol.go); once up with it, the node keeps it until down.
	NetworkPolicy bool

	exited map[string]<-chan struct{}
	start  time.Time
}

// DefaultNodeDir is $CARRENTAL_CLUSTER_DIR, or the cluster directory of
// the carrental cache.
func DefaultNodeDir() string {
	if d := os.Getenv("CARRENTAL_CLUSTER_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("CARRENTAL_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "carrental")
	}
	return filepath.Join(cache, "cluster")
}

// NewNode returns the node whose state is in dir (made absolute).
func NewNode(dir string) (*Node, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	tools, _ := FindTools() // checked by Up, which needs them; Down and Status do not
	return &Node{Dir: abs, Tools: tools, Out: os.Stderr, exited: map[string]<-chan struct{}{}}, nil
}

// Kubeconfig is the admin kubeconfig's path.
func (n *Node) Kubeconfig() string { return filepath.Join(n.Dir, "admin.kubeconfig") }

func (n *Node) pki(name string) string { return filepath.Join(n.Dir, "pki", name) }
func (n *Node) socket() string         { return filepath.Join(n.Dir, "containerd", "containerd.sock") }
func (n *Node) beforePath() string     { return filepath.Join(n.Dir, "host-before.json") }

func (n *Node) logf(format string, args ...any) {
	if n.Out != nil {
		fmt.Fprintf(n.Out, "cluster: "+format+"\n", args...)
	}
}

// Timings are what Up measured, from its start.
type Timings struct {
	APIServerReady, NodeReady, DNSReady, PostgresReady, Total time.Duration
	AlreadyUp                                                 bool
}

// Up starts whatever of the node is not running and waits until the node
// is Ready and cluster DNS answers. On an error the started components keep
// running, for their logs in <Dir>/logs; Down cleans up either way.
func (n *Node) Up(ctx context.Context) (Timings, error) {
	n.start = time.Now()
	var t Timings
	if err := n.preflight(); err != nil {
		return t, err
	}
	t.AlreadyUp = true
	for _, c := range n.nodeComponents() {
		if _, ok := n.running(c); !ok {
			t.AlreadyUp = false
		}
	}
	for _, d := range []string{"pki", "logs", "run", "etcd", "containerd", "kubelet", "cni/net.d", "cni/ipam", "pod-logs", "volume-plugins"} {
		if err := os.MkdirAll(filepath.Join(n.Dir, d), 0o755); err != nil {
			return t, err
		}
	}
	// Keys are for root's eyes; etcd also refuses a data dir others can read.
	for _, d := range []string{"pki", "etcd"} {
		if err := os.Chmod(filepath.Join(n.Dir, d), 0o700); err != nil {
			return t, err
		}
	}
	// The machine as found, recorded before anything changes it (and only
	// once: a second `up` must not take the running node for the baseline).
	if !exists(n.beforePath()) {
		b, _ := json.MarshalIndent(snapshotHost(), "", "  ")
		if err := os.WriteFile(n.beforePath(), b, 0o644); err != nil {
			return t, err
		}
	}
	if err := n.writeConfigs(); err != nil {
		return t, err
	}
	if err := n.hostNetwork(); err != nil {
		return t, err
	}

	if err := n.ensure(ctx, "etcd", n.etcdArgv(), n.etcdReady, []string{"tcp " + etcdClient, "tcp " + etcdPeer}); err != nil {
		return t, err
	}
	if err := n.ensure(ctx, "kube-apiserver", n.apiserverArgv(), n.apiserverReady, []string{fmt.Sprintf("tcp %s:%d", NodeIP, APIPort)}); err != nil {
		return t, err
	}
	t.APIServerReady = time.Since(n.start)
	cs, err := n.Clientset()
	if err != nil {
		return t, err
	}
	if err := bootstrapObjects(ctx, cs); err != nil {
		return t, fmt.Errorf("creating the cluster's own objects: %w", err)
	}
	if err := n.ensure(ctx, "kube-controller-manager", n.controllerManagerArgv(), nil, []string{"tcp " + NodeIP + ":10257"}); err != nil {
		return t, err
	}
	if err := n.ensure(ctx, "kube-scheduler", n.schedulerArgv(), nil, []string{"tcp " + NodeIP + ":10259"}); err != nil {
		return t, err
	}
	if err := n.ensure(ctx, "containerd", []string{"containerd", "--config", filepath.Join(n.Dir, "containerd.toml")}, n.containerdReady, nil); err != nil {
		return t, err
	}
	if err := n.ensurePauseImage(ctx); err != nil {
		return t, err
	}
	if err := n.ensure(ctx, "kubelet", n.kubeletArgv(), nil, []string{"tcp " + NodeIP + ":10250", "tcp " + NodeIP + ":10248"}); err != nil {
		return t, err
	}
	if err := n.ensure(ctx, "kube-proxy", n.kubeProxyArgv(), nil, []string{"tcp " + NodeIP + ":10256", "tcp " + NodeIP + ":10249"}); err != nil {
		return t, err
	}
	if err := n.ensure(ctx, "coredns", []string{n.Tools.CoreDNS, "-conf", filepath.Join(n.Dir, "Corefile")}, nil, []string{"udp " + NodeIP + ":53", "tcp " + NodeIP + ":53"}); err != nil {
		return t, err
	}
	// Started now, ready checked after DNS: it comes up while the node
	// registers.
	if _, ok := n.running("postgres"); ok {
		n.logf("postgres already running")
	} else {
		argv, err := n.preparePostgres(ctx)
		if err != nil {
			return t, err
		}
		if err := n.ensure(ctx, "postgres", argv, nil, []string{fmt.Sprintf("tcp %s:%d", NodeIP, PostgresPort)}); err != nil {
			return t, err
		}
	}
	if n.netpol() {
		if err := n.startKubeRouter(ctx, cs); err != nil {
			return t, err
		}
	}
	if err := n.waitNodeReady(ctx, cs, 3*time.Minute); err != nil {
		return t, err
	}
	t.NodeReady = time.Since(n.start)
	n.logf("node %s Ready %.1fs after start", NodeName, t.NodeReady.Seconds())
	if err := n.waitDNS(ctx, time.Minute); err != nil {
		return t, err
	}
	t.DNSReady = time.Since(n.start)
	n.logf("CoreDNS answers at %s (kubernetes.default -> %s) %.1fs after start", DNSServiceIP, apiServiceIP, t.DNSReady.Seconds())
	if err := n.postgresReady(ctx); err != nil {
		return t, err
	}
	t.PostgresReady = time.Since(n.start)
	t.Total = time.Since(n.start)
	n.logf("up in %.1fs", t.Total.Seconds())
	return t, nil
}

// preflight names every missing prerequisite at once, with its fix.
func (n *Node) preflight() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root: the node mounts, creates network namespaces and iptables rules (run as root, e.g. sudo -E scripts/cluster up)")
	}
	if _, err := FindTools(); err != nil {
		missing = append(missing, err.Error())
	} else if err := n.Tools.CheckNode(); err != nil {
		missing = append(missing, err.Error())
	}
	var pkgs []string
	for cmd, pkg := range map[string]string{
		"containerd": "containerd", "containerd-shim-runc-v2": "containerd", "ctr": "containerd",
		"runc": "runc", "iptables": "iptables", "iptables-save": "iptables", "iptables-restore": "iptables",
		"ip6tables": "iptables", "conntrack": "conntrack", "ip": "iproute2",
		// iptables-nft makes nftables tables; without nft, down could not
		// remove them once empty.
		"nft": "nftables",
	} {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", cmd, pkg))
			pkgs = append(pkgs, pkg)
		}
	}
	if len(pkgs) > 0 {
		missing = append(missing, "install with: apt-get update && apt-get install -y "+strings.Join(pkgs, " ")+" (scripts/cluster up does this)")
	}
	if _, err := exec.LookPath("go"); err != nil {
		missing = append(missing, "go in PATH: the pause image is built from infra/testbed/internal/pause")
	}
	// The node's PostgreSQL: Debian's server, and util-linux (essential on
	// Debian) to run it as the postgres user in namespaces of its own.
	if _, err := postgresBinDir(); err != nil {
		missing = append(missing, err.Error())
	}
	for _, c := range []string{"unshare", "setpriv", "mount"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package util-linux / mount): runs the node's PostgreSQL", c))
		}
	}
	if b, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(b), "overlay") {
		missing = append(missing, "the overlay filesystem in the kernel (containerd's overlayfs snapshotter)")
	}
	if !exists("/sys/fs/cgroup/memory") && !exists("/sys/fs/cgroup/cgroup.controllers") {
		missing = append(missing, "a memory cgroup controller under /sys/fs/cgroup")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing prerequisites:\n  - %s", strings.Join(missing, "\n  - "))
	}
	return nil
}

// hostNetwork puts the node IP on lo and turns forwarding on (pods reach
// the world and each other's Services through the host). Down undoes both.
func (n *Node) hostNetwork() error {
	has := false
	for _, a := range loAddrs() {
		if a == nodeAddr {
			has = true
		}
	}
	if !has {
		// A node IP that lives on another interface would be routed there.
		for _, l := range links() {
			if l.name == BridgeName {
				continue
			}
			out, _ := exec.Command("ip", "-o", "-4", "addr", "show", "dev", l.name).Output()
			if strings.Contains(string(out), " "+NodeIP+"/") {
				return fmt.Errorf("%s is already an address of %s: the node needs it for itself", NodeIP, l.name)
			}
		}
		if _, err := run("ip", "addr", "add", nodeAddr, "dev", "lo"); err != nil {
			return err
		}
	}
	// Written only when off: every write, even of the same value, resets
	// all interfaces' forwarding flags and accept_redirects.
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); err == nil && strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
}

// ensure starts a component unless it runs, then waits for ready (if any).
// ports ("tcp 10.250.0.1:6443") must be free before a start: a clear error
// beats a component that dies with "address already in use" in its log.
func (n *Node) ensure(ctx context.Context, name string, argv []string, ready func(context.Context) error, ports []string) error {
	if r, ok := n.running(name); ok {
		n.logf("%s already running (pid %d)", name, r.PID)
	} else {
		for _, p := range ports {
			if err := portFree(p); err != nil {
				return fmt.Errorf("%s cannot start: %w", name, err)
			}
		}
		exited, err := n.startDetached(name, argv, n.env())
		if err != nil {
			return err
		}
		n.exited[name] = exited
		r, _ := n.record(name)
		n.logf("%s started (pid %d, log %s)", name, r.PID, n.logPath(name))
	}
	if ready == nil {
		return nil
	}
	t0 := time.Now()
	if err := ready(ctx); err != nil {
		return err
	}
	n.logf("%s ready (%.1fs)", name, time.Since(t0).Seconds())
	return nil
}

func portFree(spec string) error {
	f := strings.Fields(spec)
	if f[0] == "udp" {
		c, err := net.ListenPacket("udp", f[1])
		if err != nil {
			return fmt.Errorf("udp %s is taken by another program (see: ss -lunp)", f[1])
		}
		return c.Close()
	}
	l, err := net.Listen("tcp", f[1])
	if err != nil {
		return fmt.Errorf("tcp %s is taken by another program (see: ss -ltnp); is another cluster up?", f[1])
	}
	return l.Close()
}

// env is the components' environment: the tools first, then the system's
// binaries (containerd needs runc and its shim, the CNI plugins and
// kube-proxy need iptables), and nothing of the caller's KUBECONFIG.
func (n *Node) env() []string {
	return []string{
		"PATH=" + filepath.Dir(n.Tools.Kubelet) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + os.Getenv("HOME"),
		"LANG=C.UTF-8",
	}
}

// waitFor polls check until it succeeds, the component dies or within
// passes; errors carry the tail of the component's log.
func (n *Node) waitFor(ctx context.Context, name string, within time.Duration, check func(context.Context) error) error {
	deadline := time.Now().Add(within)
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		if ch, ok := n.exited[name]; ok {
			select {
			case <-ch:
				return fmt.Errorf("%s exited; the end of %s:\n%s", name, n.logPath(name), n.logTail(name, 30))
			default:
			}
		} else if _, ok := n.running(name); !ok {
			return fmt.Errorf("%s is not running; the end of %s:\n%s", name, n.logPath(name), n.logTail(name, 30))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready after %s: %v; the end of %s:\n%s", name, within, last, n.logPath(name), n.logTail(name, 30))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (n *Node) tlsClient(cert, ca string) (*http.Client, error) {
	pair, err := tls.LoadX509KeyPair(n.pki(cert+".crt"), n.pki(cert+".key"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	b, err := os.ReadFile(n.pki(ca + ".crt"))
	if err != nil {
		return nil, err
	}
	pool.AppendCertsFromPEM(b)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool},
	}}, nil
}

func httpOK(ctx context.Context, c *http.Client, url string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

func (n *Node) etcdReady(ctx context.Context) error {
	c, err := n.tlsClient("apiserver-etcd-client", "etcd-ca")
	if err != nil {
		return err
	}
	return n.waitFor(ctx, "etcd", time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, c, "https://"+etcdClient+"/health")
	})
}

func (n *Node) apiserverReady(ctx context.Context) error {
	c, err := n.tlsClient("admin", "ca")
	if err != nil {
		return err
	}
	return n.waitFor(ctx, "kube-apiserver", 2*time.Minute, func(ctx context.Context) error {
		return httpOK(ctx, c, fmt.Sprintf("https://%s:%d/readyz", NodeIP, APIPort))
	})
}

func (n *Node) containerdReady(ctx context.Context) error {
	return n.waitFor(ctx, "containerd", time.Minute, func(ctx context.Context) error {
		_, err := n.ctr(ctx, "version")
		return err
	})
}

// ctr runs containerd's client against the node's containerd, in the
// namespace the CRI uses.
func (n *Node) ctr(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"--address", n.socket(), "--namespace", "k8s.io"}, args...)
	cmd := exec.CommandContext(ctx, "ctr", full...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Clientset is an admin client of the node.
func (n *Node) Clientset() (*kubernetes.Clientset, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", n.Kubeconfig())
	if err != nil {
		return nil, err
	}
	cfg.Timeout = 30 * time.Second
	return kubernetes.NewForConfig(cfg)
}

func (n *Node) waitNodeReady(ctx context.Context, cs *kubernetes.Clientset, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := "not registered"
	for time.Now().Before(deadline) {
		for _, c := range []string{"kubelet", "containerd", "kube-proxy", "coredns", "postgres"} {
			if _, ok := n.running(c); !ok {
				return fmt.Errorf("%s exited; the end of %s:\n%s", c, n.logPath(c), n.logTail(c, 30))
			}
		}
		node, err := cs.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err == nil {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady {
					if c.Status == corev1.ConditionTrue {
						return nil
					}
					last = fmt.Sprintf("%s: %s", c.Reason, c.Message)
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("node %s not Ready after %s (%s); the end of %s:\n%s", NodeName, within, last, n.logPath("kubelet"), n.logTail("kubelet", 30))
}

// waitDNS asks the kube-dns Service — through kube-proxy's rules, as a pod
// would — for the API server's Service name.
func (n *Node) waitDNS(ctx context.Context, within time.Duration) error {
	return n.waitFor(ctx, "coredns", within, func(ctx context.Context) error {
		addrs, err := lookup(ctx, DNSServiceIP, "kubernetes.default.svc."+ClusterDomain)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || addrs[0] != apiServiceIP {
			return fmt.Errorf("kubernetes.default answered %v, want %s", addrs, apiServiceIP)
		}
		return nil
	})
}

// lookup resolves name with the DNS server at server:53 only.
func lookup(ctx context.Context, server, name string) ([]string, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(server, "53"))
	}}
	return r.LookupHost(ctx, name)
}

// ComponentStatus is one line of Status.
type ComponentStatus struct {
	Name    string
	PID     int
	Running bool
}

// Status reports the components and the node's readiness. up is true only
// when every component runs and the node is Ready.
func (n *Node) Status(ctx context.Context) (comps []ComponentStatus, nodeReady string, up bool) {
	up = true
	for _, c := range n.nodeComponents() {
		r, ok := n.running(c)
		comps = append(comps, ComponentStatus{Name: c, PID: r.PID, Running: ok})
		if !ok {
			up = false
		}
	}
	nodeReady = "unknown (API server unreachable)"
	if cs, err := n.Clientset(); err == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		node, err := cs.CoreV1().Nodes().Get(cctx, NodeName, metav1.GetOptions{})
		switch {
		case err == nil:
			nodeReady = "NotReady"
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					nodeReady = "Ready"
				}
			}
		case strings.Contains(err.Error(), "not found"):
			nodeReady = "not registered"
		}
	}
	if nodeReady != "Ready" {
		up = false
	}
	return comps, nodeReady, up
}

// Load imports image tarballs (docker-archive, as scripts/build-images and
// ko --tarball write them, or OCI archives) into the node's containerd,
// where the kubelet finds them (imagePullPolicy Never or IfNotPresent).
// It returns the image names imported.
func (n *Node) Load(ctx context.Context, tars ...string) ([]string, error) {
	if _, ok := n.running("containerd"); !ok {
		return nil, fmt.Errorf("%w: containerd of %s does not run (scripts/cluster up)", errNotUp, n.Dir)
	}
	var names []string
	for _, t := range tars {
		abs, err := filepath.Abs(t)
		if err != nil {
			return names, err
		}
		if !exists(abs) {
			return names, fmt.Errorf("%s: no such file", t)
		}
		out, err := n.ctr(ctx, "images", "import", abs)
		if err != nil {
			if strings.Contains(out, "filtered out") {
				err = fmt.Errorf("%s holds no linux/%s image (ctr imports this machine's platform only; is os/architecture set in its config?): %w", t, runtime.GOARCH, err)
			}
			return names, err
		}
		// "unpacking carrental.local/x:tag (sha256:...)...done"
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "unpacking" {
				names = append(names, f[1])
			}
		}
	}
	return names, nil
}

// Down stops the node and puts the machine back as Up found it. It works
// on whatever Up left, even halfway; with no state at all it does nothing.
// It returns an error listing anything it could not remove.
func (n *Node) Down(ctx context.Context) error {
	if !exists(n.Dir) {
		n.logf("not up (no %s)", n.Dir)
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("down needs root, as up did (mounts, network namespaces, iptables)")
	}
	var before HostState
	if b, err := os.ReadFile(n.beforePath()); err == nil {
		if err := json.Unmarshal(b, &before); err != nil {
			return fmt.Errorf("%s: %w", n.beforePath(), err)
		}
	} else {
		// Up records the machine before it changes it; without the record,
		// nothing was changed outside the state directory. Take the
		// machine as it is for the baseline.
		before = snapshotHost()
	}
	var problems []string
	note := func(err error) {
		if err != nil {
			problems = append(problems, err.Error())
		}
	}

	var stopped []procRecord
	for _, c := range n.nodeComponents() {
		if r, ok := n.running(c); ok {
			stopped = append(stopped, r)
		}
	}

	// 1. Pods first, while the kubelet runs: it stops their containers and
	// tears down their sandboxes (CNI DEL: veth, IP, masquerade rule).
	// The controllers and the scheduler go before, or the pods would come
	// back.
	note(n.stopRecorded("kube-controller-manager", 10*time.Second))
	note(n.stopRecorded("kube-scheduler", 10*time.Second))
	n.deletePods(ctx)
	// 2. Then the node agent and the runtime.
	note(n.stopRecorded("kubelet", 15*time.Second))
	n.killContainers(ctx)
	note(n.stopRecorded("kube-router", 10*time.Second)) // its chains and ipsets go in 4.
	note(n.stopRecorded("kube-proxy", 10*time.Second))
	note(n.stopRecorded("coredns", 10*time.Second))
	// SIGINT, PostgreSQL's fast shutdown: SIGTERM (smart) would wait for
	// every client to disconnect.
	note(n.stopRecordedSignal("postgres", syscall.SIGINT, 20*time.Second))
	note(n.stopRecorded("containerd", 15*time.Second))
	note(n.stopRecorded("kube-apiserver", 15*time.Second))
	note(n.stopRecorded("etcd", 15*time.Second))
	// 3. Whatever survived: shims of our containerd (they are meant to
	// outlive it) and their containers, processes in the kubelet's cgroups,
	// anything started with our state directory on its command line.
	for _, p := range n.ourProcesses(before) {
		stopped = append(stopped, procRecord{PID: p.PID, Start: p.Start})
	}
	if killed := n.sweepProcesses(before); len(killed) > 0 {
		n.logf("killed leftover processes:\n  %s", strings.Join(killed, "\n  "))
	}
	// Our processes were orphans, so PID 1 reaps them; this VM's init does
	// so only every few seconds. Wait, so that no zombie of ours is listed
	// once down returns.
	waitReaped(stopped, 20*time.Second)
	// 4. The machine.
	note(unmountUnder(n.Dir))
	note(n.cleanupNetns(before))
	note(cleanupLinks())
	note(cleanupIptables(before))
	note(cleanupIPSets(before)) // once no rule refers to them
	note(cleanupNft(before))
	hadAddr := false
	for _, a := range before.LoAddrs {
		if a == nodeAddr {
			hadAddr = true
		}
	}
	if !hadAddr {
		for _, a := range loAddrs() {
			if a == nodeAddr {
				_, err := run("ip", "addr", "del", nodeAddr, "dev", "lo")
				note(err)
			}
		}
	}
	note(cleanupCgroups(before))
	note(restoreSysctls(before))
	cleanupPaths(before, n.Dir)

	// 5. Check, then forget.
	left := before.leftovers(snapshotHost())
	for _, p := range n.ourProcesses(before) {
		left = append(left, "process: "+fmt.Sprintf("%d %s", p.PID, p.Cmdline))
	}
	left = append(left, problems...)
	if len(left) > 0 {
		return fmt.Errorf("down left these behind (state kept in %s; run down again once fixed):\n  %s", n.Dir, strings.Join(left, "\n  "))
	}
	for _, m := range mountPoints() {
		if under(m, n.Dir) {
			return fmt.Errorf("%s still mounted; not removing %s", m, n.Dir)
		}
	}
	// No mount point below it (checked just above), and RemoveAll does not
	// follow symlinks: the removal cannot reach outside the directory.
	if err := os.RemoveAll(n.Dir); err != nil {
		return err
	}
	n.logf("down: nothing left (state %s removed)", n.Dir)
	return nil
}

// deletePods deletes every pod and waits (bounded) for the kubelet to
// confirm each deletion, which it does once the pod's containers and
// sandbox are gone.
func (n *Node) deletePods(ctx context.Context) {
	if _, ok := n.running("kube-apiserver"); !ok {
		return
	}
	cs, err := n.Clientset()
	if err != nil {
		return
	}
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		return
	}
	grace := int64(5)
	n.logf("deleting %d pods", len(pods.Items))
	for _, p := range pods.Items {
		_ = cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	}
	if _, ok := n.running("kubelet"); !ok {
		return
	}
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		left, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err == nil && len(left.Items) == 0 {
			n.logf("pods gone")
			return
		}
		time.Sleep(time.Second)
	}
	n.logf("pods still there after 90s; containers are killed instead")
}

// killContainers kills and deletes every task left in the node's
// containerd (pods whose deletion the kubelet did not finish).
func (n *Node) killContainers(ctx context.Context) {
	if _, ok := n.running("containerd"); !ok {
		return
	}
	out, err := n.ctr(ctx, "tasks", "ls", "-q")
	if err != nil {
		return
	}
	for _, id := range strings.Fields(out) {
		_, _ = n.ctr(ctx, "tasks", "kill", "--signal", "SIGKILL", id)
	}
	for _, id := range strings.Fields(out) {
		for i := 0; i < 20; i++ {
			if _, err := n.ctr(ctx, "tasks", "delete", id); err == nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// nodeBinaries are the programs a node runs (and the runtime's helpers).
var nodeBinaries = map[string]bool{
	"etcd": true, "kube-apiserver": true, "kube-controller-manager": true, "kube-scheduler": true,
	"kubelet": true, "kube-proxy": true, "coredns": true, "containerd": true, "kube-router": true,
	"containerd-shim": true, "containerd-shim-runc-v1": true, "containerd-shim-runc-v2": true, "runc": true,
	// The node's PostgreSQL (its -D names the state directory; the
	// machine's own does not). Its backends rename themselves
	// ("postgres: carrental-node: ..."), and go with it as its descendants.
	"postgres": true,
}

// ourProcesses finds the node's processes by what marks them as ours: one
// of the node's programs with the state directory on its command line
// (every component; the shims, whose -address is our socket; runc, whose
// --root is ours), or a place in the kubepods cgroups the node's kubelet
// made (the containers). A user's `tail -f` of a log is not ours.
func (n *Node) ourProcesses(before HostState) []procInfo {
	self := os.Getpid()
	kubepods := kubepodsOurs(before)
	var ours []procInfo
	for _, p := range processes() {
		if p.PID == self || p.PID == 1 {
			continue
		}
		argv0 := filepath.Base(strings.SplitN(p.Cmdline, " ", 2)[0])
		mentions := strings.Contains(p.Cmdline, n.Dir+"/") || strings.Contains(p.Cmdline, n.Dir+" ")
		if (nodeBinaries[argv0] && mentions) || (kubepods && strings.HasPrefix(p.Cgroup, "/kubepods")) {
			ours = append(ours, p)
		}
	}
	return ours
}

func (n *Node) sweepProcesses(before HostState) []string {
	ours := n.ourProcesses(before)
	if len(ours) == 0 {
		return nil
	}
	return killTree(ours)
}

// cleanupNetns removes pod network namespaces containerd left in
// /run/netns. The node's containerd keeps them under its state directory
// (netns_mounts_under_state_dir), so this only matters if that changes.
func (n *Node) cleanupNetns(before HostState) error {
	had := map[string]bool{}
	for _, e := range before.Netns {
		had[e] = true
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if had[e.Name()] || !strings.HasPrefix(e.Name(), "cni-") {
			continue
		}
		p := filepath.Join("/run/netns", e.Name())
		_ = unmountUnder(p)
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return nil
}
