package testbed

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The node's components run detached: each in a session of its own
// (setsid), so they outlive `cluster up` and a Ctrl-C in its terminal does
// not reach them. A record in <state>/run/<name>.json keeps the pid and the
// process's start time; together they identify the process even after the
// pid is reused, so `down` never signals a stranger.

type procRecord struct {
	Name  string   `json:"name"`
	PID   int      `json:"pid"`
	Start uint64   `json:"start"` // field 22 of /proc/<pid>/stat, in clock ticks since boot
	Argv  []string `json:"argv"`
}

// procStat returns the state letter, parent pid and start time of pid.
func procStat(pid int) (state byte, ppid int, start uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted from the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	ppid, _ = strconv.Atoi(f[1])
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], ppid, start, err
}

// alive reports whether the recorded process still runs (a zombie does not).
func (r procRecord) alive() bool {
	if r.PID <= 0 {
		return false
	}
	state, _, start, err := procStat(r.PID)
	return err == nil && start == r.Start && state != 'Z' && state != 'X'
}

func (n *Node) recordPath(name string) string { return filepath.Join(n.Dir, "run", name+".json") }

func (n *Node) record(name string) (procRecord, bool) {
	b, err := os.ReadFile(n.recordPath(name))
	if err != nil {
		return procRecord{}, false
	}
	var r procRecord
	if json.Unmarshal(b, &r) != nil {
		return procRecord{}, false
	}
	return r, true
}

// running returns the record of a component whose process is alive.
func (n *Node) running(name string) (procRecord, bool) {
	r, ok := n.record(name)
	if !ok || !r.alive() {
		return procRecord{}, false
	}
	return r, true
}

// startDetached starts a component in its own session with its output in
// <state>/logs/<name>.log and records it. The returned channel is closed
// if the process exits while this command still runs, so waits can fail
// fast with the component's log instead of timing out.
func (n *Node) startDetached(name string, argv []string, env []string) (<-chan struct{}, error) {
	if err := os.MkdirAll(filepath.Join(n.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(n.Dir, "run"), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(n.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "\n=== %s: %s\n", time.Now().Format(time.RFC3339), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = n.Dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf // the file itself: no copying goroutine that dies with us
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	_, _, start, err := procStat(cmd.Process.Pid)
	if err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s exited at once; see %s", name, n.logPath(name))
	}
	rec := procRecord{Name: name, PID: cmd.Process.Pid, Start: start, Argv: argv}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.WriteFile(n.recordPath(name), b, 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	return exited, nil
}

func (n *Node) logPath(name string) string { return filepath.Join(n.Dir, "logs", name+".log") }

// logTail returns the last lines of a component's log, for error messages.
func (n *Node) logTail(name string, lines int) string {
	b, _ := os.ReadFile(n.logPath(name))
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// stopRecorded ends a recorded component: SIGTERM, then SIGKILL after
// grace. A record whose process is gone is just removed.
func (n *Node) stopRecorded(name string, grace time.Duration) error {
	return n.stopRecordedSignal(name, syscall.SIGTERM, grace)
}

// stopRecordedSignal is stopRecorded with another first signal.
func (n *Node) stopRecordedSignal(name string, sig syscall.Signal, grace time.Duration) error {
	r, ok := n.record(name)
	if !ok {
		return nil
	}
	if r.alive() {
		n.logf("stopping %s (pid %d)", name, r.PID)
		if err := stopProcess(r, sig, grace); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return os.Remove(n.recordPath(name))
}

func stopProcess(r procRecord, sig syscall.Signal, grace time.Duration) error {
	_ = syscall.Kill(r.PID, sig)
	if waitGone(r, grace) {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGKILL)
	if waitGone(r, 10*time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d survives SIGKILL", r.PID)
}

func waitGone(r procRecord, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if !r.alive() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return !r.alive()
}

// waitReaped waits until none of the processes exists any more, not even
// as a zombie.
func waitReaped(rs []procRecord, within time.Duration) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		left := 0
		for _, r := range rs {
			if _, _, start, err := procStat(r.PID); err == nil && start == r.Start {
				left++
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// procInfo is what the sweeps of `down` need to know about a process.
type procInfo struct {
	PID, PPID int
	Start     uint64
	Cmdline   string
	Cgroup    string // its cgroup path in the memory hierarchy (v1) or the unified one
}

// processes lists every process of the machine.
func processes() []procInfo {
	ents, _ := os.ReadDir("/proc")
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, start, err := procStat(pid)
		if err != nil || state == 'Z' {
			continue
		}
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		out = append(out, procInfo{PID: pid, PPID: ppid, Start: start,
			Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " ")), Cgroup: cgroupOf(string(cg))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// cgroupOf picks the path of the memory controller (cgroup v1) or, failing
// that, of the unified hierarchy from /proc/<pid>/cgroup.
func cgroupOf(s string) string {
	unified := ""
	for _, l := range strings.Split(s, "\n") {
		f := strings.SplitN(l, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			if c == "memory" {
				return f[2]
			}
		}
		if f[1] == "" {
			unified = f[2]
		}
	}
	return unified
}

// killTree SIGKILLs the given processes and all their descendants,
// children first, and waits for them to go.
func killTree(roots []procInfo) []string {
	all := processes()
	children := map[int][]procInfo{}
	for _, p := range all {
		children[p.PPID] = append(children[p.PPID], p)
	}
	var order []procInfo
	var walk func(p procInfo)
	seen := map[int]bool{}
	walk = func(p procInfo) {
		if seen[p.PID] {
			return
		}
		seen[p.PID] = true
		for _, c := range children[p.PID] {
			walk(c)
		}
		order = append(order, p)
	}
	for _, r := range roots {
		walk(r)
	}
	var killed []string
	for _, p := range order {
		if err := syscall.Kill(p.PID, syscall.SIGKILL); err == nil {
			killed = append(killed, fmt.Sprintf("%d %s", p.PID, p.Cmdline))
		}
	}
	for _, p := range order {
		waitGone(procRecord{PID: p.PID, Start: p.Start}, 5*time.Second)
	}
	return killed
}

var errNotUp = errors.New("the cluster is not up")
