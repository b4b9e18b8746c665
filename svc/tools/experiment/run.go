package experiment

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/carrental/carrental/svc/contract"
)

// Options tune the experiments; the zero value runs the write-up's.
type Options struct {
	// Region is what configmap switches rental to (default "busan").
	Region string
	// SetRegion changes the region; default: patch the ConfigMap (what
	// `pulumi up` does after `pulumi config set carrental:rentalRegion`;
	// a later `pulumi up` without that config change puts it back).
	SetRegion func(ctx context.Context, region string) error
	// Rollout starts a rolling update of management; default: a restart
	// annotation on its pod template (`kubectl rollout restart`).
	Rollout    func(ctx context.Context) error
	RolloutHow string
	// ExpectShedding: the stack runs the write-up's demo pool on
	// management, so the breaker siege must see fast 503s.
	ExpectShedding bool
	// SetResilience switches the deployed profile (the end-to-end test
	// changes carrental:resilience and runs `pulumi up`). With it, breaker
	// runs the siege under the write-up's profile (503s expected), then
	// again under the serving one (none), which it leaves in force.
	SetResilience func(ctx context.Context, profile string) error
	// Autoscale: users of the quote load, how long to wait for a scale-up,
	// and how long for the way back (the HPA's scale-down window + a
	// minute; 5 minutes by default in Kubernetes).
	AutoscaleUsers         int
	AutoscaleFor, Settle   time.Duration
	RetryReservations      int
	PodKillFor, BreakerFor time.Duration
	BusLossFor             time.Duration
	BreakerUsers           int
}

func (o *Options) defaults(e *Env) {
	if o.Region == "" {
		o.Region = "busan"
	}
	if o.SetRegion == nil {
		o.SetRegion = e.patchRegion
	}
	if o.Rollout == nil {
		o.Rollout, o.RolloutHow = e.restartManagement, "restart annotation"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	defInt(&o.AutoscaleUsers, 8)
	def(&o.AutoscaleFor, 3*time.Minute)
	def(&o.Settle, 7*time.Minute)
	defInt(&o.RetryReservations, 40)
	def(&o.PodKillFor, 20*time.Second)
	def(&o.BusLossFor, 90*time.Second)
	def(&o.BreakerFor, 30*time.Second)
	defInt(&o.BreakerUsers, 20)
}

// Run runs the named experiments (Names, or "all") in order and returns
// their results; it stops at an unknown name.
func Run(ctx context.Context, e *Env, names []string, o Options) ([]Result, error) {
	if len(names) == 1 && names[0] == "all" {
		names = Names
	}
	o.defaults(e)
	var out []Result
	for _, n := range names {
		var r Result
		switch n {
		case "story":
			r = e.Story(ctx)
		case "liveness":
			r = e.Liveness(ctx, contract.Management)
		case "configmap":
			r = e.ConfigMap(ctx, o.Region, o.SetRegion)
		case "autoscale":
			r = e.Autoscale(ctx, o.AutoscaleUsers, o.AutoscaleFor, o.Settle)
		case "networkpolicy":
			r = e.NetworkPolicy(ctx)
		case "breaker":
			if o.SetResilience == nil {
				r = e.Breaker(ctx, o.BreakerUsers, o.BreakerFor, o.ExpectShedding)
				break
			}
			r = e.breakerBothProfiles(ctx, o)
		case "retry":
			r = e.Retry(ctx, o.RetryReservations)
		case "rollout":
			r = e.Rollout(ctx, contract.Management, o.RolloutHow, o.Rollout)
		case "podkill":
			r = e.PodKill(ctx, contract.Reservation, o.PodKillFor)
		case "busloss":
			r = e.BusLoss(ctx, contract.Management, o.BusLossFor)
		default:
			return out, fmt.Errorf("no experiment %q (want one of %v, or all)", n, Names)
		}
		out = append(out, r)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

// breakerBothProfiles runs the siege under the write-up's demo pool and
// again under the serving profile.
func (e *Env) breakerBothProfiles(ctx context.Context, o Options) Result {
	// Whatever happens, leave the serving profile in force.
	current := ""
	defer func() {
		if current == contract.ResilienceServing {
			return
		}
		if err := o.SetResilience(context.WithoutCancel(ctx), contract.ResilienceServing); err != nil {
			fmt.Fprintf(e.Out, "breaker: could not restore the %s profile: %v\n", contract.ResilienceServing, err)
		}
	}()
	var runs []Result
	for _, p := range []struct {
		profile string
		shed    bool
	}{{contract.ResilienceWriteUp, true}, {contract.ResilienceServing, false}} {
		fmt.Fprintf(e.Out, "\n-- resilience profile %s\n", p.profile)
		if err := o.SetResilience(ctx, p.profile); err != nil {
			return Result{Name: "breaker", Summary: fmt.Sprintf("switch to %s: %v", p.profile, err)}
		}
		current = p.profile
		r := e.Breaker(ctx, o.BreakerUsers, o.BreakerFor, p.shed)
		runs = append(runs, r)
		if !r.Passed {
			return r
		}
	}
	return Result{Name: "breaker", Passed: true, Lines: append(runs[0].Lines, runs[1].Lines...),
		Summary: "write-up's pool: " + runs[0].Summary + "; serving: " + runs[1].Summary}
}

// patchRegion sets the region key of the rental-region ConfigMap.
func (e *Env) patchRegion(ctx context.Context, region string) error {
	patch := fmt.Sprintf(`{"data":{%q:%q}}`, contract.ConfigKeyRegion, region)
	_, err := e.Kube.CoreV1().ConfigMaps(e.Namespace).Patch(ctx, contract.RentalConfigMapName, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// restartManagement is `kubectl rollout restart deployment/management`.
func (e *Env) restartManagement(ctx context.Context) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":%q}}}}}`, time.Now().UTC().Format(time.RFC3339))
	_, err := e.Kube.AppsV1().Deployments(e.Namespace).Patch(ctx, string(contract.Management), types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}
