package experiment

import (
	"context"
	"fmt"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carrental/carrental/svc/contract"
)

// Autoscale is the write-up's HPA run: CPU-heavy load on management (the
// fare quote) until its HorizontalPodAutoscaler scales it above its
// minimum, then no load until it is back at the minimum. It prints the
// replica timeline.
func (e *Env) Autoscale(ctx context.Context, users int, loadFor, settle time.Duration) Result {
	r := e.start("autoscale", fmt.Sprintf("quote load on management (%d users, up to %s), then back down", users, loadFor))
	h, err := e.Kube.AutoscalingV2().HorizontalPodAutoscalers(e.Namespace).Get(ctx, string(contract.Management), metav1.GetOptions{})
	if err != nil {
		return r.fail(e, "no autoscaler on management: %v", err)
	}
	min, max := int32(1), h.Spec.MaxReplicas
	if h.Spec.MinReplicas != nil {
		min = *h.Spec.MinReplicas
	}
	r.logf(e, "HPA management: min %d, max %d, target %s", min, max, target(h.Spec.Metrics))
	car := "quote-" + e.RunID
	if _, err := e.call(ctx, "POST", "/carManagements", carBody(car)); err != nil {
		return r.fail(e, "register a car to quote: %v", err)
	}
	start := time.Now()
	peak := int32(0)
	sample := func(phase string) (replicas int32, err error) {
		h, err := e.Kube.AutoscalingV2().HorizontalPodAutoscalers(e.Namespace).Get(ctx, string(contract.Management), metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		want, readyN, _, err := e.deploymentReplicas(ctx, contract.Management)
		if err != nil {
			return 0, err
		}
		if want > peak {
			peak = want
		}
		r.logf(e, "t=%-5s %-5s cpu %-8s desired %2d  replicas %2d  ready %2d", time.Since(start).Round(time.Second), phase,
			utilization(h.Status.CurrentMetrics), h.Status.DesiredReplicas, want, readyN)
		return want, nil
	}
	// Start from the minimum, so the timeline shows the whole way up.
	if err := eventually(ctx, settle, 5*time.Second, func() error {
		if want, _, _, err := e.deploymentReplicas(ctx, contract.Management); err != nil || want != min {
			return fmt.Errorf("management at %d replicas, not %d yet (%v)", want, min, err)
		}
		return nil
	}); err != nil {
		return r.fail(e, "%v", err)
	}
	start = time.Now()
	load := e.startLoad(ctx, users, 0, "GET", "/carManagements/"+car+"/quote?from=20200801&to=20200831&samples=20000", "")
	err = eventually(ctx, loadFor, 5*time.Second, func() error {
		n, err := sample("load")
		if err != nil {
			return err
		}
		if n <= min {
			return fmt.Errorf("still %d replicas", n)
		}
		return nil
	})
	// A few more samples: the scale-up goes on while the load lasts.
	for i := 0; err == nil && i < 3; i++ {
		time.Sleep(5 * time.Second)
		_, err = sample("load")
	}
	sum := load.stop()
	r.logf(e, "load: %s", figures(sum))
	if err != nil {
		return r.fail(e, "management never scaled above %d: %v", min, err)
	}
	scaledAt := time.Since(start)
	err = eventually(ctx, settle, 10*time.Second, func() error {
		n, err := sample("idle")
		if err != nil {
			return err
		}
		if n != min {
			return fmt.Errorf("%d replicas", n)
		}
		return nil
	})
	if err != nil {
		return r.fail(e, "not back to %d after the load: %v", min, err)
	}
	if peak > max {
		return r.fail(e, "%d replicas, above the maximum %d", peak, max)
	}
	return r.pass(e, "%d -> %d replicas under load (peak within %s), back to %d %s after the load", min, peak,
		scaledAt.Round(time.Second), min, (time.Since(start) - scaledAt).Round(time.Second))
}

// target renders an HPA's CPU target: "cpu 20%".
func target(metrics []autoscalingv2.MetricSpec) string {
	for _, m := range metrics {
		if m.Resource != nil && m.Resource.Target.AverageUtilization != nil {
			return fmt.Sprintf("%s %d%%", m.Resource.Name, *m.Resource.Target.AverageUtilization)
		}
	}
	return "none"
}

// utilization renders the current CPU utilization: "197%", or "unknown"
// before metrics-server has a figure.
func utilization(metrics []autoscalingv2.MetricStatus) string {
	for _, m := range metrics {
		if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
			return fmt.Sprintf("%d%%", *m.Resource.Current.AverageUtilization)
		}
	}
	return "unknown"
}
