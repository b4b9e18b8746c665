package testbed

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// What a node changes on the machine outside its state directory, and how
// `down` puts it back. `up` records a HostState before it changes anything
// (<state>/host-before.json); `down` undoes exactly the differences the node
// can have made — chains and tables that were not there, sysctls that had
// other values, the lo address, cgroups, links — and then compares a fresh
// HostState with the recorded one to report whatever is left.

// HostState is the part of the machine a node touches.
type HostState struct {
	Sysctls   map[string]string `json:"sysctls"`   // path under /proc/sys -> value
	Chains    []string          `json:"chains"`    // "iptables nat KUBE-SERVICES"
	Rules     []string          `json:"rules"`     // "iptables nat -A POSTROUTING ..."
	NftTables []string          `json:"nftTables"` // "ip filter"
	Links     []string          `json:"links"`
	LoAddrs   []string          `json:"loAddrs"`
	Netns     []string          `json:"netns"`
	Paths     map[string]bool   `json:"paths"` // watched system path -> existed
	Cgroups   []string          `json:"cgroups"`
	Mounts    []string          `json:"mounts"`
	IPSets    []string          `json:"ipSets"` // ipset names (kube-router's, with CARRENTAL_CLUSTER_NETPOL=1)
}

// touchedSysctls are every kernel setting the node's components write: the
// bridge plugin and we set ip_forward; the kubelet sets its kernel
// "tunables" (protectKernelDefaults=false); kube-proxy would set conntrack
// and route_localnet values (its config asks it not to, and a change is
// still undone). ip_forward comes first: writing it sets every interface's
// forwarding flag and conf/all/accept_redirects to its negation, which the
// values after it then correct.
var touchedSysctls = []string{
	"net/ipv4/ip_forward", "net/ipv4/conf/all/accept_redirects",
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
	"net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
	"net/netfilter/nf_conntrack_tcp_timeout_close_wait",
	"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables",
	"net/ipv4/conf/all/route_localnet", "net/ipv6/conf/all/forwarding",
}

// watchedPaths are places outside the state directory that the node's
// software creates no matter how it is configured: the shims' sockets
// (containerd 1.6 hardcodes /run/containerd/s), libcni's result cache
// (/var/lib/cni), the kubelet's /var/log/containers symlinks and its
// device plugin socket (hardcoded below /var/lib/kubelet), libmount's
// /run/mount (the kubelet mounts with mount(8)), and places flag defaults
// would use if a flag were ever dropped.
var watchedPaths = []string{
	"/run/containerd", "/run/containerd/s", "/var/lib/cni", "/var/lib/cni/results", "/run/mount",
	"/var/log/containers", "/var/log/pods", "/run/netns", "/var/lib/kubelet", "/var/lib/kubelet/device-plugins",
	"/usr/libexec/kubernetes", "/etc/cni", "/opt/cni", "/opt/containerd",
	"/var/lib/containerd", "/etc/kubernetes", "/run/runc",
}

var iptablesFamilies = []string{"iptables", "ip6tables"}

// SnapshotHost records the parts of the machine a node touches.
func SnapshotHost() HostState { return snapshotHost() }

func snapshotHost() HostState {
	h := HostState{Sysctls: map[string]string{}, Paths: map[string]bool{}}
	for _, s := range touchedSysctls {
		if b, err := os.ReadFile(filepath.Join("/proc/sys", s)); err == nil {
			h.Sysctls[s] = strings.TrimSpace(string(b))
		}
	}
	for _, fam := range iptablesFamilies {
		chains, rules := iptablesDump(fam)
		for table, cs := range chains {
			for _, c := range cs {
				h.Chains = append(h.Chains, fam+" "+table+" "+c)
			}
		}
		for _, r := range rules {
			h.Rules = append(h.Rules, fam+" "+r.table+" "+r.text)
		}
	}
	h.NftTables = nftTables()
	for _, l := range links() {
		h.Links = append(h.Links, l.name)
	}
	h.LoAddrs = loAddrs()
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			h.Netns = append(h.Netns, e.Name())
		}
	}
	for _, p := range watchedPaths {
		h.Paths[p] = exists(p)
	}
	h.Cgroups = cgroupDirs()
	h.Mounts = mountPoints()
	h.IPSets = ipSets()
	for _, s := range [][]string{h.Chains, h.Rules, h.NftTables, h.Links, h.LoAddrs, h.Netns, h.Cgroups, h.Mounts, h.IPSets} {
		sort.Strings(s)
	}
	return h
}

// Leftovers lists how after differs from h in ways a node can cause.
func (h HostState) Leftovers(after HostState) []string { return h.leftovers(after) }

// leftovers lists how after differs from h in ways the node can cause.
// Rules are compared only when they mention the node's chains or ranges:
// other software may change its own rules meanwhile.
func (h HostState) leftovers(after HostState) []string {
	var out []string
	added := func(kind string, before, now []string, keep func(string) bool) {
		had := map[string]bool{}
		for _, b := range before {
			had[b] = true
		}
		for _, a := range now {
			if !had[a] && (keep == nil || keep(a)) {
				out = append(out, kind+": "+a)
			}
		}
	}
	added("iptables chain", h.Chains, after.Chains, nil)
	added("iptables rule", h.Rules, after.Rules, mentionsNode)
	added("nftables table", h.NftTables, after.NftTables, nil)
	added("network link", h.Links, after.Links, nil)
	added("address on lo", h.LoAddrs, after.LoAddrs, nil)
	added("network namespace", h.Netns, after.Netns, nil)
	added("cgroup", h.Cgroups, after.Cgroups, nil)
	added("mount", h.Mounts, after.Mounts, nil)
	added("ipset", h.IPSets, after.IPSets, nodeIPSet)
	for _, s := range touchedSysctls {
		if was, ok := h.Sysctls[s]; ok && was != after.Sysctls[s] {
			out = append(out, fmt.Sprintf("sysctl %s = %s (was %s)", strings.ReplaceAll(s, "/", "."), after.Sysctls[s], h.Sysctls[s]))
		}
	}
	for _, p := range watchedPaths {
		if !h.Paths[p] && after.Paths[p] {
			out = append(out, "path: "+p)
		}
	}
	return out
}

func mentionsNode(rule string) bool {
	for _, s := range []string{"KUBE-", "CNI-", "10.88.", "10.96.", NodeIP, BridgeName, "carrental"} {
		if strings.Contains(rule, s) {
			return true
		}
	}
	return false
}

// run runs a host command and returns its combined output.
func run(name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

type iptRule struct{ table, chain, target, text string }

// iptablesDump parses `<family>-save`: chains by table and every rule.
func iptablesDump(family string) (map[string][]string, []iptRule) {
	out, err := exec.Command(family + "-save").Output()
	if err != nil {
		return nil, nil
	}
	chains := map[string][]string{}
	var rules []iptRule
	table := ""
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
		case strings.HasPrefix(l, ":"):
			chains[table] = append(chains[table], strings.Fields(l[1:])[0])
		case strings.HasPrefix(l, "-A "):
			f := strings.Fields(l)
			r := iptRule{table: table, chain: f[1], text: l}
			for i := 2; i+1 < len(f); i++ {
				if f[i] == "-j" || f[i] == "-g" {
					r.target = f[i+1]
				}
			}
			rules = append(rules, r)
		}
	}
	return chains, rules
}

func nodeChain(c string) bool { return strings.HasPrefix(c, "KUBE-") || strings.HasPrefix(c, "CNI-") }

// cleanupIptables removes, per family and table, the KUBE-* and CNI-*
// chains that were not there before and every rule that jumps to them, in
// one iptables-restore transaction per family (--noflush: nothing else is
// touched).
func cleanupIptables(before HostState) error {
	had := map[string]bool{}
	for _, c := range before.Chains {
		had[c] = true
	}
	var errs []string
	for _, fam := range iptablesFamilies {
		chains, rules := iptablesDump(fam)
		if chains == nil {
			continue
		}
		var script strings.Builder
		tables := make([]string, 0, len(chains))
		for t := range chains {
			tables = append(tables, t)
		}
		sort.Strings(tables)
		for _, t := range tables {
			ours := map[string]bool{}
			for _, c := range chains[t] {
				if nodeChain(c) && !had[fam+" "+t+" "+c] {
					ours[c] = true
				}
			}
			if len(ours) == 0 {
				continue
			}
			fmt.Fprintf(&script, "*%s\n", t)
			for _, r := range rules {
				if r.table == t && !ours[r.chain] && ours[r.target] {
					fmt.Fprintf(&script, "-D %s\n", strings.TrimPrefix(r.text, "-A "))
				}
			}
			names := make([]string, 0, len(ours))
			for c := range ours {
				names = append(names, c)
			}
			sort.Strings(names)
			for _, c := range names {
				fmt.Fprintf(&script, "-F %s\n", c)
			}
			for _, c := range names {
				fmt.Fprintf(&script, "-X %s\n", c)
			}
			script.WriteString("COMMIT\n")
		}
		if script.Len() == 0 {
			continue
		}
		cmd := exec.Command(fam+"-restore", "--noflush", "-w")
		cmd.Stdin = strings.NewReader(script.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Sprintf("%s-restore: %v: %s\n%s", fam, err, out, script.String()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

func nftTables() []string {
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return nil
	}
	var ts []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "table" {
			ts = append(ts, f[1]+" "+f[2])
		}
	}
	return ts
}

// cleanupNft deletes the nftables tables that iptables-nft created for the
// node (ip filter, ip nat, ...) once they hold no rule: with the chains
// gone they are empty shells the machine did not have.
func cleanupNft(before HostState) error {
	had := map[string]bool{}
	for _, t := range before.NftTables {
		had[t] = true
	}
	for _, t := range nftTables() {
		if had[t] {
			continue
		}
		f := strings.Fields(t)
		out, err := exec.Command("nft", "list", "table", f[0], f[1]).Output()
		if err != nil {
			continue
		}
		if !nftEmpty(string(out)) {
			continue
		}
		if _, err := run("nft", "delete", "table", f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

// nftEmpty reports whether a listed table has chains but no rules.
func nftEmpty(listing string) bool {
	for _, l := range strings.Split(listing, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "", l == "}", strings.HasPrefix(l, "table "), strings.HasPrefix(l, "chain "),
			strings.HasPrefix(l, "type ") && strings.Contains(l, "hook"), strings.HasPrefix(l, "#"):
		default:
			return false
		}
	}
	return true
}

// ipSets lists the machine's ipsets (none without the ipset tool).
func ipSets() []string {
	out, err := exec.Command("ipset", "list", "-n").Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

// nodeIPSet: the names kube-router's network policy controller gives its
// sets (KUBE-SRC-*, KUBE-DST-*, and inet6: ones). Only these are the
// node's to remove or report.
func nodeIPSet(name string) bool {
	name = strings.TrimPrefix(name, "inet6:")
	return strings.HasPrefix(name, "KUBE-") || strings.HasPrefix(name, "kube-router")
}

// cleanupIPSets destroys the node's ipsets that were not there before. It
// runs after cleanupIptables: a set still referenced by a rule cannot go.
func cleanupIPSets(before HostState) error {
	had := map[string]bool{}
	for _, s := range before.IPSets {
		had[s] = true
	}
	var errs []string
	for _, s := range ipSets() {
		if had[s] || !nodeIPSet(s) {
			continue
		}
		if _, err := run("ipset", "destroy", s); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("ipsets: %s", strings.Join(errs, "; "))
	}
	return nil
}

type link struct{ name, master string }

func links() []link {
	out, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		return nil
	}
	var ls []link
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name := strings.TrimSuffix(f[1], ":")
		if i := strings.IndexByte(name, '@'); i >= 0 {
			name = name[:i]
		}
		lk := link{name: name}
		for i := 2; i+1 < len(f); i++ {
			if f[i] == "master" {
				lk.master = f[i+1]
			}
		}
		ls = append(ls, lk)
	}
	return ls
}

// cleanupLinks removes the bridge and any pod veth still attached to it.
func cleanupLinks() error {
	var errs []string
	for _, l := range links() {
		if l.master == BridgeName {
			if _, err := run("ip", "link", "del", l.name); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	for _, l := range links() {
		if l.name == BridgeName {
			if _, err := run("ip", "link", "del", l.name); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func loAddrs() []string {
	out, err := exec.Command("ip", "-o", "addr", "show", "dev", "lo").Output()
	if err != nil {
		return nil
	}
	var as []string
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" || f[i] == "inet6" {
				as = append(as, f[i+1])
			}
		}
	}
	return as
}

const nodeAddr = NodeIP + "/32"

// mountPoints lists the mount points of this mount namespace.
func mountPoints() []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var ms []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 {
			ms = append(ms, unescapeMount(f[4]))
		}
	}
	return ms
}

// unescapeMount undoes the octal escapes of mountinfo (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// unmountUnder unmounts everything mounted at or below dir, deepest first
// (kubelet's rshared bind mount of its root, secret and token tmpfs,
// overlay root filesystems, sandbox shm, network namespaces). A busy mount
// is detached lazily: it is gone from the tree at once.
func unmountUnder(dir string) error {
	for round := 0; round < 10; round++ {
		var ms []string
		for _, m := range mountPoints() {
			if under(m, dir) {
				ms = append(ms, m)
			}
		}
		if len(ms) == 0 {
			return nil
		}
		sort.Slice(ms, func(i, j int) bool { return len(ms[i]) > len(ms[j]) })
		for _, m := range ms {
			if err := syscall.Unmount(m, 0); err != nil {
				_ = syscall.Unmount(m, syscall.MNT_DETACH)
			}
		}
	}
	var left []string
	for _, m := range mountPoints() {
		if under(m, dir) {
			left = append(left, m)
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("still mounted: %s", strings.Join(left, ", "))
	}
	return nil
}

// cgroupDirs lists the first two levels of every cgroup hierarchy
// ("memory/kubepods", "memory/kubepods/besteffort").
func cgroupDirs() []string {
	hs, _ := os.ReadDir("/sys/fs/cgroup")
	var out []string
	for _, h := range hs {
		if !h.IsDir() {
			continue
		}
		l1, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h.Name()))
		for _, d := range l1 {
			if !d.IsDir() {
				continue
			}
			out = append(out, h.Name()+"/"+d.Name())
			l2, _ := os.ReadDir(filepath.Join("/sys/fs/cgroup", h.Name(), d.Name()))
			for _, e := range l2 {
				if e.IsDir() {
					out = append(out, h.Name()+"/"+d.Name()+"/"+e.Name())
				}
			}
		}
	}
	return out
}

// kubepodsOurs reports whether the kubelet's cgroup tree is the node's own
// (it did not exist before `up`): only then are the processes in it ours.
func kubepodsOurs(before HostState) bool {
	for _, c := range before.Cgroups {
		if strings.HasSuffix(c, "/kubepods") {
			return false
		}
	}
	return true
}

// cleanupCgroups removes the kubelet's kubepods tree (new since `up`) from
// every hierarchy, leaves first. rmdir only succeeds on a cgroup with no
// process, so nothing running is ever torn out.
func cleanupCgroups(before HostState) error {
	if !kubepodsOurs(before) {
		return nil
	}
	hs, _ := os.ReadDir("/sys/fs/cgroup")
	var errs []string
	for _, h := range hs {
		root := filepath.Join("/sys/fs/cgroup", h.Name(), "kubepods")
		if !exists(root) {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if err := syscall.Rmdir(d); err != nil && !os.IsNotExist(err) {
				errs = append(errs, fmt.Sprintf("%s: %v", d, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("cgroups: %s", strings.Join(errs, "; "))
	}
	return nil
}

func restoreSysctls(before HostState) error {
	var errs []string
	for _, s := range touchedSysctls {
		want, ok := before.Sysctls[s]
		if !ok {
			continue
		}
		p := filepath.Join("/proc/sys", s)
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) == want {
			continue
		}
		if err := os.WriteFile(p, []byte(want+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", s, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("sysctls: %s", strings.Join(errs, "; "))
	}
	return nil
}

// cleanupPaths removes what the node left in the watched system paths that
// did not exist before: the kubelet's symlinks into the state directory,
// libcni's cached results of the node's network, shim sockets nobody
// listens on any more; then the directories, if that emptied them.
func cleanupPaths(before HostState, stateDir string) {
	listening := listeningUnixSockets()
	for _, dir := range []string{"/var/log/containers", "/var/lib/cni/results", "/run/containerd/s", "/run/mount", "/var/lib/kubelet/device-plugins"} {
		if before.Paths[dir] {
			continue
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			p := filepath.Join(dir, e.Name())
			switch dir {
			case "/var/log/containers":
				if t, err := os.Readlink(p); err == nil && under(t, stateDir) {
					_ = os.Remove(p)
				}
			case "/var/lib/cni/results":
				// <network>-<sandbox id>-<interface>: the pod network's and the
				// loopback network containerd names cni-loopback. CNI DEL
				// removes them; a killed containerd leaves them.
				if strings.HasPrefix(e.Name(), CNINetwork+"-") || strings.HasPrefix(e.Name(), "cni-loopback-") {
					_ = os.Remove(p)
				}
			case "/var/lib/kubelet/device-plugins":
				if (e.Name() == "kubelet.sock" && !listening[p]) || e.Name() == "kubelet_internal_checkpoint" {
					_ = os.Remove(p)
				}
			case "/run/containerd/s":
				if !listening[p] {
					_ = os.Remove(p)
				}
			case "/run/mount":
				// libmount's table of userspace mount options: removable
				// once no line names a mount of ours (all are unmounted).
				if b, err := os.ReadFile(p); err == nil && !strings.Contains(string(b), "TARGET=/") {
					_ = os.Remove(p)
				} else if err == nil && onlyUnder(string(b), stateDir) {
					_ = os.Remove(p)
				}
			}
		}
	}
	// Deepest first, so a parent can empty out.
	ps := append([]string(nil), watchedPaths...)
	sort.Slice(ps, func(i, j int) bool { return len(ps[i]) > len(ps[j]) })
	for _, p := range ps {
		if !before.Paths[p] {
			_ = syscall.Rmdir(p) // only if empty
		}
	}
}

// onlyUnder reports whether every TARGET= of a utab file is below dir.
func onlyUnder(utab, dir string) bool {
	for _, l := range strings.Split(utab, "\n") {
		for _, f := range strings.Fields(l) {
			if strings.HasPrefix(f, "TARGET=") && !under(unescapeMount(strings.TrimPrefix(f, "TARGET=")), dir) {
				return false
			}
		}
	}
	return true
}

// listeningUnixSockets returns the paths of bound unix sockets.
func listeningUnixSockets() map[string]bool {
	b, _ := os.ReadFile("/proc/net/unix")
	m := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 8 && strings.HasPrefix(f[7], "/") {
			m[f[7]] = true
		}
	}
	return m
}
