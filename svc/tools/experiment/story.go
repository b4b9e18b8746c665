package experiment

import (
	"context"
	"fmt"
	"time"
)

// Story drives the write-up's rental story through the gateway: register,
// reserve (payment approved, car RESERVED, the view shows it), 409 on the
// taken car, rent, return (WAITING), reserve again and cancel (payment
// CANCELED).
func (e *Env) Story(ctx context.Context) Result {
	r := e.start("story", "the write-up's payloads through the gateway")
	car, res1, res2 := "car01-"+e.RunID, "res20200801Seq0001-"+e.RunID, "res20200801Seq0002-"+e.RunID
	pay1, pay2 := "pay20200801Seq0001-"+e.RunID, "pay20200801Seq0002-"+e.RunID
	// The customers' steps go as the customers themselves (their custNo is
	// their token's subject); registering and watching, as the operator.
	cus01, cus02 := asCustomer("cus01"), asCustomer("cus02")
	steps := []struct {
		what string
		do   func() error
	}{
		{"register " + car, func() error {
			_, err := e.expect(ctx, 201, "POST", "/carManagements", carBody(car))
			return err
		}},
		{"reserve it: payment approved", func() error {
			resp, err := e.expectAs(ctx, cus01, 201, "POST", "/carReservations", reservationBody(res1, car, "cus01", pay1))
			if err != nil {
				return err
			}
			var got struct{ ProcStatus string }
			if err := resp.decode(&got); err != nil || got.ProcStatus != "RESERVED" {
				return fmt.Errorf("reservation %s (%v)", resp, err)
			}
			return e.onePayment(ctx, res1, "APPROVED")
		}},
		{"the car is RESERVED in management and in the view", func() error { return e.carIs(ctx, car, "RESERVED", res1) }},
		{"another customer does not see it: 404", func() error {
			if e.Token == nil {
				return nil // a stack with authMode off has no customers
			}
			_, err := e.expectAs(ctx, cus02, 404, "GET", "/carReservations/"+res1, "")
			return err
		}},
		{"a second reservation of the taken car answers 409", func() error {
			_, err := e.expectAs(ctx, cus02, 409, "POST", "/carReservations", reservationBody(res2, car, "cus02", pay2))
			return err
		}},
		{"rent it", func() error {
			resp, err := e.expectAs(ctx, cus01, 201, "POST", "/carRentals", fmt.Sprintf(`{"resrvNo":%q}`, res1))
			if err != nil {
				return err
			}
			var got struct{ RentalNo string }
			if err := resp.decode(&got); err != nil || got.RentalNo == "" {
				return fmt.Errorf("rental %s (%v)", resp, err)
			}
			if err := e.carIs(ctx, car, "RENTED", res1); err != nil {
				return err
			}
			_, err = e.expectAs(ctx, cus01, 200, "POST", "/carRentals/"+got.RentalNo+"/return", "")
			return err
		}},
		{"returned: the car is WAITING", func() error { return e.carIs(ctx, car, "WAITING", res1) }},
		{"reserve again, then cancel: payment CANCELED", func() error {
			if _, err := e.expectAs(ctx, cus02, 201, "POST", "/carReservations", reservationBody(res2, car, "cus02", pay2)); err != nil {
				return err
			}
			if _, err := e.expectAs(ctx, cus02, 200, "POST", "/carReservations/"+res2+"/cancel", ""); err != nil {
				return err
			}
			if err := e.onePayment(ctx, res2, "CANCELED"); err != nil {
				return err
			}
			return e.carIs(ctx, car, "WAITING", res2)
		}},
	}
	for _, s := range steps {
		start := time.Now()
		if err := s.do(); err != nil {
			return r.fail(e, "%s: %v", s.what, err)
		}
		r.logf(e, "%-52s ok (%s)", s.what, time.Since(start).Round(time.Millisecond))
	}
	return r.pass(e, "%d steps", len(steps))
}

// onePayment checks that resrvNo has exactly one payment, in status.
func (e *Env) onePayment(ctx context.Context, resrvNo, status string) error {
	resp, err := e.expect(ctx, 200, "GET", "/payments?resrvNo="+resrvNo, "")
	if err != nil {
		return err
	}
	var pays []struct{ Status string }
	if err := resp.decode(&pays); err != nil {
		return err
	}
	if len(pays) != 1 || pays[0].Status != status {
		return fmt.Errorf("payments of %s: %s, want exactly one %s", resrvNo, resp, status)
	}
	return nil
}

// carIs waits until management and the read model agree on the car's
// status (and the view on its reservation): the view is built from events,
// so it converges rather than answering at once.
func (e *Env) carIs(ctx context.Context, carNo, status, resrvNo string) error {
	return eventually(ctx, 60*time.Second, 200*time.Millisecond, func() error {
		var car struct{ ProcStatus string }
		resp, err := e.expect(ctx, 200, "GET", "/carManagements/"+carNo, "")
		if err != nil {
			return err
		}
		if err := resp.decode(&car); err != nil {
			return err
		}
		if car.ProcStatus != status {
			return fmt.Errorf("management says %s", car.ProcStatus)
		}
		var info struct{ CarStatus, ResrvNo string }
		if resp, err = e.expect(ctx, 200, "GET", "/carInformations/"+carNo, ""); err != nil {
			return err
		}
		if err := resp.decode(&info); err != nil {
			return err
		}
		if info.CarStatus != status || info.ResrvNo != resrvNo {
			return fmt.Errorf("the view says %s for %q", info.CarStatus, info.ResrvNo)
		}
		return nil
	})
}
