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
