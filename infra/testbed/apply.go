package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Object is the part of a Kubernetes object the test bed needs to route it.
type Object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace,omitempty"`
	} `json:"metadata"`
}

// Path is the REST path of an object; plural is its resource name.
func (o Object) Path(plural string) string {
	prefix := "/apis/" + o.APIVersion
	if !strings.Contains(o.APIVersion, "/") {
		prefix = "/api/" + o.APIVersion
	}
	if o.Metadata.Namespace != "" {
		prefix += "/namespaces/" + o.Metadata.Namespace
	}
	return prefix + "/" + plural + "/" + o.Metadata.Name
}

// Apply server-side-applies one object (JSON or YAML) at its resource path
// and returns the API server's status code and body.
func (c *Cluster) Apply(ctx context.Context, plural string, doc []byte) (int, []byte, error) {
	var o Object
	if err := yaml.Unmarshal(doc, &o); err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, c.URL+o.Path(plural)+"?fieldManager=carrental-testbed&force=true", bytes.NewReader(doc))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/apply-patch+yaml")
	resp, err := c.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// ApplyCRDs applies every CustomResourceDefinition of a multi-document
// YAML file and waits until each is established.
func (c *Cluster) ApplyCRDs(ctx context.Context, manifests []byte) (int, error) {
	n := 0
	for _, doc := range bytes.Split(manifests, []byte("\n---")) {
		var o Object
		if err := yaml.Unmarshal(doc, &o); err != nil || o.Kind != "CustomResourceDefinition" {
			continue
		}
		status, body, err := c.Apply(ctx, "customresourcedefinitions", doc)
		if err != nil {
			return n, err
		}
		if status >= 300 {
			return n, fmt.Errorf("CRD %s: %d %s", o.Metadata.Name, status, body)
		}
		if err := c.waitEstablished(ctx, o.Metadata.Name); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (c *Cluster) waitEstablished(ctx context.Context, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.URL+"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"+name, nil)
		resp, err := c.Client().Do(req)
		if err == nil {
			var crd struct {
				Status struct {
					Conditions []struct{ Type, Status string } `json:"conditions"`
				} `json:"status"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&crd)
			resp.Body.Close()
			for _, cond := range crd.Status.Conditions {
				if cond.Type == "Established" && cond.Status == "True" {
					return nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("CRD %s not established", name)
}
