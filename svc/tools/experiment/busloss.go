package experiment

import (
	"context"
	"fmt"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/carrental/carrental/svc/contract"
)

// busLossRate paces the bookings: a steady stream, not a siege that would
// grow management past what a small node holds (the budget then counts
// the unschedulable pods as missing and no eviction is allowed).
const busLossRate = 10

// BusNamespace and BusSelector find the JetStream servers (natsMode
// statefulset).
const (
	BusNamespace = "nats"
	BusSelector  = "app=nats"
)

// BusLoss proves that no single loss stops bookings: during a stream of
// reservations it kills one JetStream server of three (its pod deleted
// with no grace: the stream keeps a quorum and elects a new leader), then
// evicts the pods of drained one at a time, as `kubectl drain` does
// (through the Eviction API, which honours the PodDisruptionBudget, and
// waiting for each replacement to be Ready). Neither loss is on a
// request's path (events wait in the outbox; the other pods serve), so
// every booking must succeed, every acknowledged one be stored once with
// one payment, and the cars' state, fed by events, converge.
func (e *Env) BusLoss(ctx context.Context, drained contract.Service, duration time.Duration) Result {
	r := e.start("busloss", fmt.Sprintf("kill a JetStream server, then evict the %s pods one by one, during %s of reservations", drained, duration))
	// The budget counts the pods the Deployment wants: a drain starts from
	// a settled one, as an operator's would.
	if err := e.settled(ctx, drained); err != nil {
		return r.fail(e, "not settled before the drain: %v", err)
	}
	var (
		server    string
		serverAt  time.Time
		streamErr error
	)
	stream, err := e.bookDuring(ctx, "bus", duration, busLossRate, func() error {
		servers, err := e.Kube.CoreV1().Pods(BusNamespace).List(ctx, metav1.ListOptions{LabelSelector: BusSelector})
		if err != nil {
			return err
		}
		if n := len(servers.Items); n < 3 {
			return fmt.Errorf("%d JetStream server(s) in %s: losing one needs a cluster of 3 (carrental:natsReplicas 3)", n, BusNamespace)
		}
		server, serverAt = servers.Items[len(servers.Items)-1].Name, time.Now()
		zero := int64(0)
		if err := e.Kube.CoreV1().Pods(BusNamespace).Delete(ctx, server, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			return fmt.Errorf("kill %s: %w", server, err)
		}
		r.logf(e, "t=%-5s  killed JetStream server %s (no grace)", (duration / 3).Round(time.Second), server)
		// The drain starts once the server is back, so the two losses
		// never overlap: one thing at a time is what the design survives.
		if streamErr = e.waitReady(ctx, BusNamespace, server, serverAt); streamErr != nil {
			return streamErr
		}
		r.logf(e, "%s back and Ready %s after the kill", server, time.Since(serverAt).Round(time.Second))
		return e.drain(ctx, &r, drained)
	})
	if err != nil {
		return r.fail(e, "%v", err)
	}
	r.logf(e, "stream: %s", stream)
	if len(stream.acked) == 0 {
		return r.fail(e, "nothing was acknowledged: %v", stream.counts)
	}
	if n := stream.failed(); n > 0 {
		return r.fail(e, "%d of %d bookings failed across the losses: %v", n, stream.total, stream.counts)
	}
	if err := e.verifyBooked(ctx, &r, stream.acked); err != nil {
		return r.fail(e, "%v", err)
	}
	return r.pass(e, "%d bookings, none failed; %d acknowledged, none lost or doubled across a JetStream server's loss and a drain of %s", stream.total, len(stream.acked), drained)
}

// waitReady waits for pod name in namespace to be Ready again, created
// after since (a StatefulSet brings a pod back under its name).
func (e *Env) waitReady(ctx context.Context, namespace, name string, since time.Time) error {
	return eventually(ctx, 3*time.Minute, 500*time.Millisecond, func() error {
		p, err := e.Kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.CreationTimestamp.Time.Before(since.Add(-time.Second)) || !ready(*p) {
			return fmt.Errorf("%s/%s not back and Ready", namespace, name)
		}
		return nil
	})
}

// drain evicts the pods of s one at a time, each once its replacement
// brought the service back to as many Ready pods as before.
func (e *Env) drain(ctx context.Context, r *Result, s contract.Service) error {
	pods, err := e.pods(ctx, s)
	if err != nil {
		return err
	}
	if len(pods) < 2 {
		return fmt.Errorf("%d %s pod(s): a drain without downtime needs 2", len(pods), s)
	}
	want := len(pods)
	for _, p := range pods {
		at := time.Now()
		err := eventually(ctx, 2*time.Minute, time.Second, func() error {
			// 429: the budget allows no eviction now; the drain retries.
			return e.Kube.PolicyV1().Evictions(e.Namespace).Evict(ctx, &policyv1.Eviction{
				ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: e.Namespace},
			})
		})
		if err != nil {
			return fmt.Errorf("evict %s: %w", p.Name, err)
		}
		err = eventually(ctx, 3*time.Minute, 500*time.Millisecond, func() error {
			now, err := e.pods(ctx, s)
			if err != nil {
				return err
			}
			n := 0
			for _, q := range now {
				if q.Name != p.Name && ready(q) {
					n++
				}
			}
			if n < want {
				return fmt.Errorf("%d of %d %s pods Ready", n, want, s)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("after evicting %s: %w", p.Name, err)
		}
		r.logf(e, "evicted %s; %d %s pods Ready again %s later", p.Name, want, s, time.Since(at).Round(time.Second))
	}
	return nil
}
