package experiment

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carrental/carrental/svc/contract"
)

// Rollout replaces every pod of a service (update: a new image tag through
// the stack, or a restart annotation) under steady load through the
// gateway, and counts the failed requests: readiness, the preStop pause,
// the service's drain and maxUnavailable 0 should make it zero.
func (e *Env) Rollout(ctx context.Context, s contract.Service, how string, update func(ctx context.Context) error) Result {
	r := e.start("rollout", fmt.Sprintf("rolling update of %s (%s) under load", s, how))
	// With maxUnavailable 0 a rollout needs room for one more pod; a
	// cluster that cannot schedule the replicas it has cannot roll them.
	if err := e.settled(ctx, s); err != nil {
		return r.fail(e, "not settled before the rollout: %v", err)
	}
	car := "roll-" + e.RunID
	if _, err := e.call(ctx, "POST", "/carManagements", carBody(car)); err != nil {
		return r.fail(e, "register a car to read: %v", err)
	}
	before, err := e.pods(ctx, s)
	if err != nil {
		return r.fail(e, "%v", err)
	}
	d, err := e.Kube.AppsV1().Deployments(e.Namespace).Get(ctx, string(s), metav1.GetOptions{})
	if err != nil {
		return r.fail(e, "%v", err)
	}
	template := d.Spec.Template
	load := e.startLoad(ctx, 4, SteadyRate, "GET", "/carManagements/"+car, "")
	time.Sleep(2 * time.Second)
	start := time.Now()
	if err := update(ctx); err != nil {
		load.stop()
		return r.fail(e, "update: %v", err)
	}
	r.logf(e, "t=0s     update started (%s)", how)
	// The update may reach the Deployment later (pulumi up plans first).
	// Its generation is no sign: the autoscaler moving spec.replicas under
	// the load bumps it too, and a rollout "done" then is the old pods'.
	err = eventually(ctx, 5*time.Minute, 500*time.Millisecond, func() error {
		d, err := e.Kube.AppsV1().Deployments(e.Namespace).Get(ctx, string(s), metav1.GetOptions{})
		if err == nil && !templateChanged(template, d.Spec.Template) {
			err = fmt.Errorf("%s still has its old pod template", s)
		}
		return err
	})
	if err == nil {
		r.logf(e, "t=%-5s  the Deployment has a new pod template", time.Since(start).Round(time.Second))
		err = e.rolledOut(ctx, s, 5*time.Minute)
	}
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	sum := load.stop()
	if err != nil {
		return r.fail(e, "%v", err)
	}
	after, err := e.pods(ctx, s)
	if err != nil {
		return r.fail(e, "%v", err)
	}
	old := map[string]bool{}
	for _, p := range before {
		old[p.Name] = true
	}
	for _, p := range after {
		if old[p.Name] {
			return r.fail(e, "pod %s survived the rollout", p.Name)
		}
	}
	r.logf(e, "t=%-5s  rolled out: %d pods replaced by %d", took.Round(time.Second), len(before), len(after))
	r.logf(e, "load: %s", figures(sum))
	if f := failed(sum); f > 0 || sum.Transactions == 0 {
		return r.fail(e, "%d of %d requests failed during the rollout (%s)", f, sum.Transactions, codes(sum))
	}
	return r.pass(e, "%d pods replaced in %s, 0 of %d requests failed", len(before), took.Round(time.Second), sum.Transactions)
}

// templateChanged says whether a Deployment's pod template differs from
// the one it had: what makes it replace its pods.
func templateChanged(before, now corev1.PodTemplateSpec) bool {
	return !equality.Semantic.DeepEqual(before, now)
}

// settled waits until every pod the Deployment of s wants is Ready (after
// an autoscaler's scale-up the pods beyond what the node holds stay
// Pending until it scales back down).
func (e *Env) settled(ctx context.Context, s contract.Service) error {
	return eventually(ctx, 5*time.Minute, 5*time.Second, func() error {
		want, readyN, _, err := e.deploymentReplicas(ctx, s)
		if err != nil || readyN < want {
			return fmt.Errorf("%s: %d of %d ready (%v)", s, readyN, want, err)
		}
		return nil
	})
}
