package testbed

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// RESTConfig is a client-go configuration for the admin user.
func (c *Cluster) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            c.URL,
		BearerToken:     c.Token,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true}, // self-signed, loopback only
	}
}

// Workloads reads back every object of namespace that kube-score scores
// (Deployments with the Services, autoscalers, disruption budgets and
// network policies that refer to them) as one YAML stream, the form
// `kube-score score` reads.
func Workloads(ctx context.Context, cs kubernetes.Interface, namespace string) ([]byte, error) {
	var docs []runtime.Object
	add := func(kind, apiVersion string, list runtime.Object, err error) error {
		if err != nil {
			return fmt.Errorf("list %s: %w", kind, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, obj := range items {
			m, err := meta.Accessor(obj)
			if err != nil {
				return err
			}
			m.SetManagedFields(nil) // noise to a reader, ignored by kube-score
			// Items of a list come without their kind.
			obj.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
			docs = append(docs, obj)
		}
		return nil
	}
	opts := metav1.ListOptions{}
	deps, err := cs.AppsV1().Deployments(namespace).List(ctx, opts)
	if err == nil {
		for i := range deps.Items {
			dropDefaultedReplicas(&deps.Items[i])
		}
	}
	if err := add("Deployment", "apps/v1", deps, err); err != nil {
		return nil, err
	}
	svcs, err := cs.CoreV1().Services(namespace).List(ctx, opts)
	if err := add("Service", "v1", svcs, err); err != nil {
		return nil, err
	}
	hpas, err := cs.AutoscalingV2().HorizontalPodAutoscalers(namespace).List(ctx, opts)
	if err := add("HorizontalPodAutoscaler", "autoscaling/v2", hpas, err); err != nil {
		return nil, err
	}
	pdbs, err := cs.PolicyV1().PodDisruptionBudgets(namespace).List(ctx, opts)
	if err := add("PodDisruptionBudget", "policy/v1", pdbs, err); err != nil {
		return nil, err
	}
	pols, err := cs.NetworkingV1().NetworkPolicies(namespace).List(ctx, opts)
	if err := add("NetworkPolicy", "networking.k8s.io/v1", pols, err); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("namespace %s holds nothing to score", namespace)
	}
	var out bytes.Buffer
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(b)
	}
	return out.Bytes(), nil
}

// dropDefaultedReplicas removes spec.replicas unless a client declared it.
// The API server fills in replicas: 1 when a manifest leaves it out (as it
// should when an HPA owns the count), and an autoscaler writes it through
// the scale subresource; neither is in the manifest kube-score is meant to
// judge. The managed fields tell them apart: a declared replicas field is
// owned by a manager of the main resource.
func dropDefaultedReplicas(d *appsv1.Deployment) {
	for _, mf := range d.ManagedFields {
		if mf.Subresource != "" || mf.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Spec map[string]json.RawMessage `json:"f:spec"`
		}
		if json.Unmarshal(mf.FieldsV1.Raw, &fields) == nil {
			if _, declared := fields.Spec["f:replicas"]; declared {
				return
			}
		}
	}
	d.Spec.Replicas = nil
}

// Score is what kube-score found: one line per failed check.
type Score struct {
	Critical, Warning []string
}

// KubeScore runs the kube-score binary over manifests.
func KubeScore(ctx context.Context, bin string, manifests []byte) (Score, error) {
	cmd := exec.CommandContext(ctx, bin, "score", "--output-format", "ci", "-")
	cmd.Stdin = bytes.NewReader(manifests)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// kube-score exits 1 when it found a CRITICAL: that is a result, not a
	// failure to score.
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && len(out) > 0) {
		return Score{}, fmt.Errorf("kube-score: %v\n%s", err, stderr.String())
	}
	var s Score
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "[CRITICAL]"):
			s.Critical = append(s.Critical, line)
		case strings.HasPrefix(line, "[WARNING]"):
			s.Warning = append(s.Warning, line)
		}
	}
	if errors.As(err, &exit) && len(s.Critical) == 0 {
		return s, fmt.Errorf("kube-score exited %d without a CRITICAL line\n%s%s", exit.ExitCode(), out, stderr.String())
	}
	return s, nil
}

// Exemption accepts one finding on one object, for a reason no setting of
// ours can change (an upstream chart's fixed template, say).
type Exemption struct {
	Namespace, Object string // the object's name and namespace
	Finding           string // a substring of kube-score's message
	Why               string
}

func (e Exemption) covers(line string) bool {
	return strings.Contains(line, "] "+e.Object+"/"+e.Namespace+" ") && strings.Contains(line, e.Finding)
}

// Unexempted returns the CRITICAL findings no exemption covers, and the
// exemptions of namespace that covered nothing: a stale exemption hides the
// next finding of its kind, so it must go as soon as upstream fixes it.
func (s Score) Unexempted(namespace string, exemptions []Exemption) (failing []string, stale []Exemption) {
	used := make([]bool, len(exemptions))
	for _, line := range s.Critical {
		covered := false
		for i, e := range exemptions {
			if e.Namespace == namespace && e.covers(line) {
				used[i], covered = true, true
			}
		}
		if !covered {
			failing = append(failing, line)
		}
	}
	for i, e := range exemptions {
		if e.Namespace == namespace && !used[i] {
			stale = append(stale, e)
		}
	}
	return failing, stale
}
