package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// ConfigMap changes the rental-region ConfigMap's region with set (the
// end-to-end test changes carrental:rentalRegion and runs `pulumi up`; the
// command patches the ConfigMap) and waits until every rental pod reports
// the new region from the mounted file, with no restart. It puts the old
// region back at the end.
func (e *Env) ConfigMap(ctx context.Context, region string, set func(ctx context.Context, region string) error) Result {
	r := e.start("configmap", fmt.Sprintf("change the rental region to %q without a restart", region))
	pods, err := e.pods(ctx, contract.Rental)
	if err != nil || len(pods) == 0 {
		return r.fail(e, "no rental pod (%v)", err)
	}
	before, err := e.restartCounts(ctx, contract.Rental)
	if err != nil {
		return r.fail(e, "%v", err)
	}
	old, err := e.rentalRegion(ctx, pods[0].Name)
	if err != nil {
		return r.fail(e, "%v", err)
	}
	r.logf(e, "rental pods %d, region now %q", len(pods), old)
	start := time.Now()
	if err := set(ctx, region); err != nil {
		return r.fail(e, "set region: %v", err)
	}
	r.logf(e, "t=0s     region set to %q (%s)", region, time.Since(start).Round(time.Second))
	start = time.Now()
	for _, p := range pods {
		err := eventually(ctx, 3*time.Minute, time.Second, func() error {
			got, err := e.rentalRegion(ctx, p.Name)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(got, region+" ") {
				return fmt.Errorf("%s still reports %q", p.Name, got)
			}
			return nil
		})
		if err != nil {
			return r.fail(e, "%v", err)
		}
		r.logf(e, "t=%-5s  %s reports %q", time.Since(start).Round(time.Second), p.Name, region)
	}
	after, err := e.restartCounts(ctx, contract.Rental)
	if err != nil {
		return r.fail(e, "%v", err)
	}
	for pod, n := range before {
		if after[pod] != n {
			return r.fail(e, "%s restarted (%d -> %d): the change must arrive in place", pod, n, after[pod])
		}
	}
	oldRegion := strings.Fields(old)[0]
	if err := set(ctx, oldRegion); err != nil {
		return r.fail(e, "put region %q back: %v", oldRegion, err)
	}
	r.logf(e, "region put back to %q", oldRegion)
	return r.pass(e, "every rental pod read %q from the mounted ConfigMap within %s, no restart", region, time.Since(start).Round(time.Second))
}

// rentalRegion asks one rental pod which region it uses and where it came
// from: "busan (file /config/region)".
func (e *Env) rentalRegion(ctx context.Context, pod string) (string, error) {
	out, err := e.exec(ctx, pod, contract.Rental, "http", "GET", fmt.Sprintf("http://127.0.0.1:%d%s", contract.HTTPPort, contract.PathRentalConfig))
	if err != nil {
		return "", err
	}
	_, body, _ := strings.Cut(out, "\n")
	var cfg struct {
		Region struct{ Value, Source string }
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		return "", fmt.Errorf("rental %s: %q: %w", contract.PathRentalConfig, out, err)
	}
	return cfg.Region.Value + " (" + cfg.Region.Source + ")", nil
}
