package testbed

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestOnlyDeclaredReplicasAreScored(t *testing.T) {
	owned := func(manager, subresource, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Subresource: subresource, FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	}
	for _, tc := range []struct {
		name    string
		managed []metav1.ManagedFieldsEntry
		kept    bool
	}{
		{"declared by the program", []metav1.ManagedFieldsEntry{owned("pulumi-kubernetes", "", `{"f:spec":{"f:replicas":{},"f:template":{}}}`)}, true},
		{"defaulted by the API server", []metav1.ManagedFieldsEntry{owned("pulumi-kubernetes", "", `{"f:spec":{"f:template":{}}}`)}, false},
		{"written by the autoscaler", []metav1.ManagedFieldsEntry{
			owned("pulumi-kubernetes", "", `{"f:spec":{"f:template":{}}}`),
			owned("kube-controller-manager", "scale", `{"f:spec":{"f:replicas":{}}}`),
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			one := int32(1)
			d := appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{ManagedFields: tc.managed}, Spec: appsv1.DeploymentSpec{Replicas: &one}}
			dropDefaultedReplicas(&d)
			if kept := d.Spec.Replicas != nil; kept != tc.kept {
				t.Errorf("replicas kept = %v, want %v", kept, tc.kept)
			}
		})
	}
}

func TestExemptionsCoverOnlyTheirObjectAndFinding(t *testing.T) {
	score := Score{Critical: []string{
		"[CRITICAL] istiod/istio-system apps/v1/Deployment: (discovery) The container is running with a low user ID",
		"[CRITICAL] istiod/istio-system apps/v1/Deployment: (discovery) CPU limit is not set",
		"[CRITICAL] istiod-canary/istio-system apps/v1/Deployment: (discovery) The container is running with a low user ID",
	}}
	exemptions := []Exemption{
		{Namespace: "istio-system", Object: "istiod", Finding: "low user ID"},
		{Namespace: "istio-system", Object: "istiod", Finding: "low group ID"},
		{Namespace: "istio-ingress", Object: "istiod", Finding: "CPU limit"},
	}
	failing, stale := score.Unexempted("istio-system", exemptions)
	if len(failing) != 2 || failing[0] != score.Critical[1] || failing[1] != score.Critical[2] {
		t.Errorf("failing %q: want the CPU limit and the other object's finding", failing)
	}
	if len(stale) != 1 || stale[0].Finding != "low group ID" {
		t.Errorf("stale %v: want only the unused exemption of this namespace", stale)
	}
}
