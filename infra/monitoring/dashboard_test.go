package monitoring

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/carrental/carrental/svc/contract"
)

// Every query of the dashboard parses as PromQL (once Grafana has put in
// its variables) and reads only metrics the services serve
// (contract.Metrics); every service has its row.
func TestDashboardQueriesParseAndReadOnlyServedMetrics(t *testing.T) {
	raw, err := Dashboard("carrental", DefaultObjectives())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["uid"] != DashboardUID {
		t.Fatalf("uid %v", doc["uid"])
	}
	var exprs []string
	collectExprs(doc, &exprs)
	if len(exprs) == 0 {
		t.Fatal("no queries")
	}
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$namespace", "carrental")
	read := map[contract.Service]map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricsOf(t, grafana.Replace(e), "carrental") {
			s, ok := contract.ServiceOfMetric(name)
			if !ok {
				t.Errorf("%s reads %s, which no service serves (contract.Metrics)", e, name)
				continue
			}
			if read[s] == nil {
				read[s] = map[string]bool{}
			}
			read[s][name] = true
		}
	}
	// Every metric a service serves is on the dashboard.
	for _, s := range contract.Services() {
		for _, m := range contract.Metrics(s) {
			if !read[s][m] && !strings.HasSuffix(m, "_sum") {
				t.Errorf("%s's %s is on no panel", s, m)
			}
		}
	}
}

func collectExprs(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				*out = append(*out, s)
				continue
			}
			collectExprs(x, out)
		}
	case []any:
		for _, x := range v {
			collectExprs(x, out)
		}
	}
}
