package experiment

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/carrental/carrental/svc/contract"
)

// pods are a service's pods, oldest first, without those going away.
func (e *Env) pods(ctx context.Context, s contract.Service) ([]corev1.Pod, error) {
	list, err := e.Kube.CoreV1().Pods(e.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + string(s)})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out, nil
}

// unschedulable names the pods of s the scheduler could not place and
// why ("" when there are none): with maxUnavailable 0 a rollout that has
// no room for its extra pod stalls, and the count alone does not say so.
func (e *Env) unschedulable(ctx context.Context, s contract.Service) string {
	list, err := e.Kube.CoreV1().Pods(e.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + string(s)})
	if err != nil {
		return ""
	}
	return unschedulablePods(list.Items)
}

func unschedulablePods(pods []corev1.Pod) string {
	var stuck []string
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				stuck = append(stuck, fmt.Sprintf("%s unschedulable: %s", p.Name, c.Message))
			}
		}
	}
	return strings.Join(stuck, "; ")
}

func ready(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// restarts is the restart count of the service's container in p.
func restarts(p corev1.Pod) int32 {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == p.Labels["app"] {
			return c.RestartCount
		}
	}
	return 0
}

// restartCounts maps each pod of s to its restart count.
func (e *Env) restartCounts(ctx context.Context, s contract.Service) (map[string]int32, error) {
	pods, err := e.pods(ctx, s)
	if err != nil {
		return nil, err
	}
	out := map[string]int32{}
	for _, p := range pods {
		out[p.Name] = restarts(p)
	}
	return out, nil
}

// exec runs the service binary inside a pod with args and returns stdout.
// The images have no shell; the binary's own subcommands (probe, http)
// are what an operator runs there.
func (e *Env) exec(ctx context.Context, pod string, s contract.Service, args ...string) (string, error) {
	cmd := append([]string{"/ko-app/" + string(s)}, args...)
	req := e.Kube.CoreV1().RESTClient().Post().Resource("pods").Namespace(e.Namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: string(s), Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ex, err := remotecommand.NewSPDYExecutor(e.REST, "POST", req.URL())
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return stdout.String(), fmt.Errorf("exec %s in %s: %w: %s%s", strings.Join(args, " "), pod, err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// admin calls a pod's admin listener (loopback in the pod) through exec.
func (e *Env) admin(ctx context.Context, pod string, s contract.Service, method, path, body string) (string, error) {
	args := []string{"http", method, "http://" + contract.PodAdminAddr() + path}
	if body != "" {
		args = append(args, body)
	}
	return e.exec(ctx, pod, s, args...)
}

// crashThroughAdmin is the default Kill: the service exits at once with
// status 137 and skips every shutdown step.
func (e *Env) crashThroughAdmin(ctx context.Context, pod, container string) error {
	_, err := e.admin(ctx, pod, contract.Service(container), "POST", "/crash", "")
	return err
}

// ContainerdKiller sends SIGKILL to a pod's container through the node's
// containerd (for a run on the node itself): a real kill -9.
func ContainerdKiller(e *Env, ctrBinary, socket string) func(ctx context.Context, pod, container string) error {
	return func(ctx context.Context, pod, container string) error {
		p, err := e.Kube.CoreV1().Pods(e.Namespace).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, c := range p.Status.ContainerStatuses {
			if c.Name != container {
				continue
			}
			id, ok := strings.CutPrefix(c.ContainerID, "containerd://")
			if !ok {
				return fmt.Errorf("%s/%s runs on %q, not containerd", pod, container, c.ContainerID)
			}
			out, err := exec.CommandContext(ctx, ctrBinary, "--address", socket, "--namespace", "k8s.io",
				"tasks", "kill", "--signal", "SIGKILL", id).CombinedOutput()
			if err != nil {
				return fmt.Errorf("ctr tasks kill %s: %w: %s", id, err, out)
			}
			return nil
		}
		return fmt.Errorf("no container %s in %s", container, pod)
	}
}

// deploymentReplicas reads a Deployment's desired, ready and updated counts.
func (e *Env) deploymentReplicas(ctx context.Context, s contract.Service) (want, ready, updated int32, err error) {
	d, err := e.Kube.AppsV1().Deployments(e.Namespace).Get(ctx, string(s), metav1.GetOptions{})
	if err != nil {
		return 0, 0, 0, err
	}
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	return want, d.Status.ReadyReplicas, d.Status.UpdatedReplicas, nil
}

// rolledOut waits until a Deployment's new generation is fully available.
func (e *Env) rolledOut(ctx context.Context, s contract.Service, within time.Duration) error {
	return eventually(ctx, within, time.Second, func() error {
		d, err := e.Kube.AppsV1().Deployments(e.Namespace).Get(ctx, string(s), metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := d.Status
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if st.ObservedGeneration < d.Generation || st.UpdatedReplicas < want || st.Replicas > want || st.AvailableReplicas < want {
			err := fmt.Errorf("%s: generation %d/%d, updated %d, replicas %d, available %d of %d",
				s, st.ObservedGeneration, d.Generation, st.UpdatedReplicas, st.Replicas, st.AvailableReplicas, want)
			if stuck := e.unschedulable(ctx, s); stuck != "" {
				err = fmt.Errorf("%w; %s", err, stuck)
			}
			return err
		}
		return nil
	})
}

// ServiceURL is the in-cluster address of a service's Service (ClusterIP),
// reachable from a node of the cluster.
func ServiceURL(ctx context.Context, e *Env, s contract.Service) (string, error) {
	svc, err := e.Kube.CoreV1().Services(e.Namespace).Get(ctx, string(s), metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == "None" {
		return "", fmt.Errorf("service %s has no ClusterIP", s)
	}
	return fmt.Sprintf("http://%s:%d", svc.Spec.ClusterIP, contract.HTTPPort), nil
}
