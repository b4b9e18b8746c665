package local_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/carrental/carrental/svc/contract"
	"github.com/carrental/carrental/svc/wiring/local"
)

// Each service serves exactly the carrental_* series contract.Metrics
// names: the alerts and the dashboard (infra/monitoring) query those
// names, so a metric renamed or dropped on one side fails here.
func TestEveryServiceServesTheMetricsOfTheContract(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sys, err := local.Start(ctx, local.Options{
		DataDir: t.TempDir(), Getenv: func(string) string { return "" },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = sys.Wait() }()
	// One request to every service (through the gateway) gives every
	// labelled series a child.
	for prefix := range contract.Routes() {
		tok, err := sys.Token(contract.RoleStaff, "staff01", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", sys.Gateway()+prefix, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", prefix, resp.StatusCode)
		}
	}
	for _, s := range contract.Services() {
		resp, err := http.Get(sys.URLs[s] + contract.PathMetrics)
		if err != nil {
			t.Fatal(err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var got []string
		for name, mf := range families {
			if !strings.HasPrefix(name, contract.MetricNamespace+"_") {
				continue
			}
			if mf.GetType().String() == "HISTOGRAM" {
				got = append(got, name+"_bucket", name+"_count", name+"_sum")
				continue
			}
			got = append(got, name)
		}
		want := contract.Metrics(s)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s serves %v, contract.Metrics says %v", s, got, want)
		}
	}
}
