package experiment

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The rollout experiment waits for a new pod template, not a new
// generation: the autoscaler changing the replicas bumps the generation
// and leaves the template, and the pods, as they were.
func TestTemplateChangedOnlyWhenPodsWouldBeReplaced(t *testing.T) {
	template := func(image string, annotations map[string]string) corev1.PodTemplateSpec {
		var p corev1.PodTemplateSpec
		p.Annotations = annotations
		p.Spec.Containers = []corev1.Container{{Name: "management", Image: image}}
		return p
	}
	before := template("carrental/management:abc", nil)
	cases := []struct {
		name string
		now  corev1.PodTemplateSpec
		want bool
	}{
		{"the same template (replicas scaled)", template("carrental/management:abc", nil), false},
		{"the same, annotations empty rather than nil", template("carrental/management:abc", map[string]string{}), false},
		{"a new image tag", template("carrental/management:abc-rollout", nil), true},
		{"a restart annotation", template("carrental/management:abc", map[string]string{"kubectl.kubernetes.io/restartedAt": "now"}), true},
	}
	for _, c := range cases {
		if got := templateChanged(before, c.now); got != c.want {
			t.Errorf("%s: templateChanged %v, want %v", c.name, got, c.want)
		}
	}
}

// A stalled rollout names the pods the scheduler could not place, and only
// those.
func TestUnschedulablePodsAreNamed(t *testing.T) {
	pod := func(name string, cond corev1.PodCondition) corev1.Pod {
		var p corev1.Pod
		p.Name = name
		p.Status.Conditions = []corev1.PodCondition{cond}
		return p
	}
	pods := []corev1.Pod{
		pod("management-a", corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}),
		pod("management-b", corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, Message: "0/1 nodes are available: 1 Insufficient cpu."}),
		pod("management-c", corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse}),
	}
	want := "management-b unschedulable: 0/1 nodes are available: 1 Insufficient cpu."
	if got := unschedulablePods(pods); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := unschedulablePods(pods[:1]); got != "" {
		t.Fatalf("a scheduled pod named: %q", got)
	}
}
