package experiment

import (
	"context"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// NetworkPolicy checks the services' NetworkPolicies where the cluster
// enforces them: from inside one service's pod, a call to a service it
// calls in contract.Calls gets through, and a call outside the call graph
// is refused.
func (e *Env) NetworkPolicy(ctx context.Context) Result {
	r := e.start("networkpolicy", "calls inside the call graph pass, calls outside it are refused")
	cases := []struct {
		from, to contract.Service
		allowed  bool
	}{
		{contract.Reservation, contract.Payment, true},
		{contract.Rental, contract.Reservation, true},
		{contract.Gateway, contract.Management, true},
		{contract.View, contract.Payment, false},
		{contract.Management, contract.Reservation, false},
		{contract.Payment, contract.Management, false},
	}
	for _, c := range cases {
		if c.allowed != contains(contract.Calls()[c.from], c.to) {
			return r.fail(e, "case %s -> %s contradicts contract.Calls", c.from, c.to)
		}
		pods, err := e.pods(ctx, c.from)
		if err != nil || len(pods) == 0 {
			return r.fail(e, "no %s pod (%v)", c.from, err)
		}
		start := time.Now()
		_, err = e.exec(ctx, pods[0].Name, c.from, "http", "-timeout", "5s", "GET", contract.InClusterURL(c.to)+contract.PathHealthz)
		verdict := "passed"
		if err != nil {
			verdict = "refused"
		}
		r.logf(e, "%-11s -> %-11s %-7s in %s", c.from, c.to, verdict, time.Since(start).Round(time.Millisecond))
		if (err == nil) != c.allowed {
			if c.allowed {
				return r.fail(e, "%s -> %s is in the call graph but was refused: %v", c.from, c.to, err)
			}
			return r.fail(e, "%s -> %s is outside the call graph but got through: the cluster does not enforce NetworkPolicies", c.from, c.to)
		}
	}
	return r.pass(e, "%d calls as the call graph says", len(cases))
}

func contains(list []contract.Service, s contract.Service) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
