// Package e2e runs the system the way its users run it: the stack deployed
// by the real Pulumi engine into a real Kubernetes node on this machine
// (scripts/cluster), every pod started by a real kubelet from images built
// here, and every experiment of the write-up run against the pods through
// the gateway's Service. `scripts/e2e` runs it; it is part of scripts/test.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/carrental/carrental/infra/testbed"
	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/platform/auth"
	"github.com/carrental/carrental/svc/tools/experiment"
)

// phases records how long each phase took, for the closing figures.
type phases struct {
	t     *testing.T
	start time.Time
	lines []string
}

func (p *phases) done(name string) {
	line := fmt.Sprintf("%-34s %6.1fs", name, time.Since(p.start).Seconds())
	p.lines = append(p.lines, line)
	p.t.Logf("phase: %s", line)
	p.start = time.Now()
}

func TestWriteUpExperimentsOnARealCluster(t *testing.T) {
	if os.Getenv("CARRENTAL_E2E") != "1" {
		t.Skip("set CARRENTAL_E2E=1 (scripts/e2e): needs root, the node's tools and the Pulumi tools")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	ph := &phases{t: t, start: time.Now()}
	// The verdict is printed last, after the timings, so the end of the
	// log (all a CI report shows) says which experiment failed and why.
	var verdict []string
	defer func() {
		t.Logf("phase timings:\n  %s", strings.Join(ph.lines, "\n  "))
		if len(verdict) > 0 {
			t.Logf("experiments:\n  %s", strings.Join(verdict, "\n  "))
		}
	}()

	// The node: one already up (CARRENTAL_E2E_REUSE=1, for iterating) or
	// a fresh one in a temporary directory, stopped at the end either way
	// when we started it.
	dir := testbed.DefaultNodeDir()
	if os.Getenv("CARRENTAL_E2E_REUSE") != "1" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("carrental-e2e-%d", os.Getpid()))
	}
	node, err := testbed.NewNode(dir)
	if err != nil {
		t.Fatal(err)
	}
	node.Out = testWriter{t}
	// kube-router enforces the NetworkPolicies, so the networkpolicy
	// experiment proves them (scripts/e2e builds it).
	node.NetworkPolicy = true
	if os.Getenv("CARRENTAL_E2E_REUSE") != "1" {
		defer func() {
			if err := node.Down(context.WithoutCancel(ctx)); err != nil {
				t.Errorf("cluster down: %v", err)
			}
			ph.done("cluster down")
		}()
	}
	if _, err := node.Up(ctx); err != nil {
		t.Fatalf("cluster up: %v", err)
	}
	ph.done("cluster up")

	tag, tars := buildImages(t, root)
	ph.done("images built")
	if _, err := node.Load(ctx, tars...); err != nil {
		t.Fatal(err)
	}
	ph.done("images loaded")

	config, err := node.NodeStackConfig(tag)
	if err != nil {
		t.Fatal(err)
	}
	// The node's users come from an issuer of our own, as from any
	// external one: the stack gets its issuer, audience and public keys
	// inline; the experiments mint their tokens with the private key.
	users, err := e2eIssuer()
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(users.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	delete(config, "carrental:authMode")
	config["carrental:authIssuer"] = users.Issuer()
	config["carrental:authAudience"] = contract.DefaultAudience
	config["carrental:authJwks"] = string(jwks)
	stack, err := testbed.OpenLocalStack(ctx, testbed.LocalStackOptions{
		ToolsRoot: toolsRoot(), StateDir: filepath.Join(dir, "stack"), Kubeconfig: node.Kubeconfig(), Config: config,
	})
	if err != nil {
		t.Fatal(err)
	}
	// One update at a time: the rollout's up may still be finishing when
	// the next experiment changes the stack again.
	var upMu sync.Mutex
	up := func(ctx context.Context, what string) error {
		upMu.Lock()
		defer upMu.Unlock()
		var log bytes.Buffer
		if _, err := stack.Stack.Up(ctx, optup.ProgressStreams(&log)); err != nil {
			return fmt.Errorf("%s: pulumi up: %w\n%s", what, err, tail(log.String(), 8000))
		}
		return nil
	}
	// skipAwait is off: up returns once every Deployment is Available.
	if err := up(ctx, "deploy"); err != nil {
		t.Log(podReport(ctx, node))
		t.Fatal(err)
	}
	ph.done("pulumi up (all Available)")

	rest, err := clientcmd.BuildConfigFromFlags("", node.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	env := &experiment.Env{Kube: kube, REST: rest, Namespace: "carrental", Out: testWriter{t},
		Token: func(subject string, roles ...string) (string, error) {
			// The whole run fits in the TTL; tokens are minted once per identity.
			return users.Mint(auth.Token{Subject: subject, Roles: roles, TTL: 2 * time.Hour})
		}}
	if env.Gateway, err = experiment.ServiceURL(ctx, env, contract.Gateway); err != nil {
		t.Fatal(err)
	}
	env.Kill = experiment.ContainerdKiller(env, "ctr", node.ContainerdSocket())

	rolloutTag := tag + "-rollout"
	rolloutUp := make(chan error, 1)
	opts := experiment.Options{
		// What a user does: change the stack's config and `pulumi up`.
		SetRegion: func(ctx context.Context, region string) error {
			if err := stack.Set(ctx, "carrental:rentalRegion", region); err != nil {
				return err
			}
			return up(ctx, "rental region "+region)
		},
		RolloutHow: "new image tag " + rolloutTag + " through pulumi up",
		Rollout: func(ctx context.Context) error {
			src, dst := "carrental.local/management:"+tag, "carrental.local/management:"+rolloutTag
			if out, err := exec.CommandContext(ctx, "ctr", "--address", node.ContainerdSocket(), "-n", "k8s.io", "images", "tag", "--force", src, dst).CombinedOutput(); err != nil {
				return fmt.Errorf("ctr images tag: %v: %s", err, out)
			}
			if err := stack.Set(ctx, "carrental:images.management", dst); err != nil {
				return err
			}
			// up waits for the rollout; the experiment watches it meanwhile.
			go func() { rolloutUp <- up(ctx, "rollout") }()
			return nil
		},
		SetResilience: func(ctx context.Context, profile string) error {
			if err := stack.Set(ctx, "carrental:resilience", profile); err != nil {
				return err
			}
			return up(ctx, "resilience "+profile)
		},
		Settle: 3 * time.Minute,
	}
	results, err := experiment.Run(ctx, env, experiment.Names, opts)
	ph.done("experiments")
	select {
	case upErr := <-rolloutUp:
		if upErr != nil {
			t.Error(upErr)
		}
	case <-time.After(5 * time.Minute):
		t.Error("pulumi up of the rollout did not return")
	}
	var failed []string
	for _, r := range results {
		line := fmt.Sprintf("%-10s passed=%v  %s", r.Name, r.Passed, r.Summary)
		t.Log(line)
		verdict = append(verdict, tail(line, 600))
		if !r.Passed {
			failed = append(failed, r.Name)
		}
	}
	if err != nil {
		verdict = append(verdict, "run: "+tail(err.Error(), 600))
		t.Fatal(err)
	}
	if len(failed) > 0 {
		t.Errorf("experiments failed: %v", failed)
	}

	var log bytes.Buffer
	if _, err := stack.Stack.Destroy(ctx, optdestroy.ProgressStreams(&log)); err != nil {
		t.Errorf("pulumi destroy: %v\n%s", err, tail(log.String(), 4000))
	}
	ph.done("pulumi destroy")
}

// podReport is every pod's state and, for those not ready, the end of
// their logs: what a failed deploy needs to be understood.
func podReport(ctx context.Context, node *testbed.Node) string {
	rest, err := clientcmd.BuildConfigFromFlags("", node.Kubeconfig())
	if err != nil {
		return err.Error()
	}
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err.Error()
	}
	pods, err := kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "%s/%s %s\n", p.Namespace, p.Name, p.Status.Phase)
		for _, c := range p.Status.ContainerStatuses {
			if c.Ready {
				continue
			}
			fmt.Fprintf(&b, "  %s not ready, restarts %d, state %+v\n", c.Name, c.RestartCount, c.State)
			tailLines := int64(20)
			logs, err := kube.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name, Previous: c.RestartCount > 0, TailLines: &tailLines}).DoRaw(ctx)
			if err != nil {
				logs = []byte(err.Error())
			}
			fmt.Fprintf(&b, "  logs:\n%s\n", logs)
		}
	}
	return b.String()
}

// buildImages runs scripts/build-images for the services and the add-ons
// and returns the services' tag and every tarball.
func buildImages(t *testing.T, root string) (tag string, tars []string) {
	t.Helper()
	// ko names images after the layout path, which must be lower case;
	// t.TempDir() carries the test's name.
	out, err := os.MkdirTemp("", "carrental-e2e-images-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(out) })
	var printed []byte
	for _, args := range [][]string{{"--out", out}, {"--addons", "--out", out}} {
		cmd := exec.Command(filepath.Join(root, "scripts", "build-images"), args...)
		cmd.Dir = root
		cmd.Stderr = testWriter{t}
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("build-images %v: %v", args, err)
		}
		printed = append(printed, b...)
	}
	sc := bufio.NewScanner(bytes.NewReader(printed))
	for sc.Scan() {
		name, ref, ok := strings.Cut(sc.Text(), " ")
		if ok && name == string(contract.Gateway) {
			_, tag, _ = strings.Cut(ref, ":")
		}
	}
	if tag == "" {
		t.Fatalf("build-images printed no gateway image:\n%s", printed)
	}
	tars, _ = filepath.Glob(filepath.Join(out, "*.tar"))
	addons, _ := filepath.Glob(filepath.Join(out, "addons", "*.tar"))
	return tag, append(tars, addons...)
}

func toolsRoot() string {
	cache := os.Getenv("CARRENTAL_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "carrental")
	}
	return filepath.Join(cache, "tools")
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// testWriter sends progress to the test log, line by line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// e2eIssuer is the end users' issuer of one run: a fresh key, never
// written anywhere.
func e2eIssuer() (*auth.Signer, error) {
	key, err := auth.GenerateKey()
	if err != nil {
		return nil, err
	}
	return auth.NewSigner("https://issuer.e2e.carrental.test", key)
}
