package systemtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/carrental/carrental/svc/contract"
)

// A burst of twenty concurrent reservations for different cars. Served by
// default; under the write-up's demo pool most are shed with 503 and
// Retry-After. Either way the burst takes nothing down: the very next
// reservation, within a second, succeeds (a shed answer opens no breaker).
func TestBurstThenImmediateSuccess(t *testing.T) {
	for _, c := range []struct {
		profile   string
		wantShed  bool
		wantAllOK bool
	}{
		{contract.ResilienceServing, false, true},
		{contract.ResilienceWriteUp, true, false},
	} {
		t.Run(c.profile, func(t *testing.T) {
			sys := startLocal(t, map[string]string{contract.EnvResilienceProfile: c.profile})
			gw := staffAPI(t, sys)
			for i := range 21 {
				gw.expect(201, "POST", "/carManagements", fmt.Sprintf(`{"carNo":"burst%02d","rentalAmt":"10000","carRegDt":"20200701"}`, i))
			}
			statuses := map[int]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					r := gw.call("POST", "/carReservations", reservation(fmt.Sprintf("resBurst%02d", i), fmt.Sprintf("burst%02d", i), fmt.Sprintf("payBurst%02d", i)))
					mu.Lock()
					statuses[r.Status]++
					mu.Unlock()
					if r.Status == 503 && field(r.Map(t), "code") != "overloaded" {
						t.Errorf("a 503 that is not a shed answer: %s", r.Body)
					}
				})
			}
			wg.Wait()
			t.Logf("burst of 20 under %s: %v", c.profile, statuses)
			if c.wantAllOK && statuses[201] != 20 {
				t.Errorf("burst: %v, want all 20 served", statuses)
			}
			if c.wantShed && statuses[503] == 0 {
				t.Errorf("burst: %v, want the demo pool to shed some", statuses)
			}
			if n := statuses[201] + statuses[503]; n != 20 {
				t.Errorf("burst: %v, want only 201 or 503", statuses)
			}
			start := time.Now()
			gw.expect(201, "POST", "/carReservations", reservation("resAfterBurst", "burst20", "payAfterBurst"))
			if took := time.Since(start); took > time.Second {
				t.Errorf("the first reservation after the burst took %s", took)
			}
		})
	}
}
