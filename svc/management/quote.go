package management

import (
	"math"

	"github.com/carrental/carrental/svc/platform/errs"
	"github.com/carrental/carrental/svc/platform/value"
)

// A fare quote prices every day of a rental (weekends and the summer
// season cost more, long rentals get a discount) and estimates the damage
// waiver by simulating the rental many times. The simulation is what makes
// a quote cost real CPU, like any risk engine: it is the endpoint the
// write-up's autoscaling run can be reproduced with.
const (
	MaxQuoteDays = 366
	// MaxQuoteWork bounds days x samples per request.
	MaxQuoteWork = 20_000_000
)

// QuoteRequest asks for a quote of one car over [From, To].
type QuoteRequest struct {
	CarNo   string
	From    value.Date
	To      value.Date
	Samples int // damage simulations; more is slower and more precise
}

// Quote is the answer.
type Quote struct {
	CarNo        string       `json:"carNo"`
	Days         int          `json:"days"`
	Fare         value.Amount `json:"fare"`
	DamageWaiver value.Amount `json:"damageWaiver"`
	Total        value.Amount `json:"total"`
	Samples      int          `json:"samples"`
}

// Validate checks the range and the amount of work asked for.
func (q QuoteRequest) Validate() error {
	if err := value.ValidateID("carNo", q.CarNo); err != nil {
		return err
	}
	if q.From == "" || q.To == "" {
		return errs.E(errs.Invalid, "from and to are required (yyyyMMdd)")
	}
	if q.To.Before(q.From) {
		return errs.E(errs.Invalid, "to %s is before from %s", q.To, q.From)
	}
	days := q.From.DaysUntil(q.To) + 1
	if days > MaxQuoteDays {
		return errs.E(errs.Invalid, "a quote covers at most %d days, not %d", MaxQuoteDays, days)
	}
	if q.Samples < 1 || days*q.Samples > MaxQuoteWork {
		return errs.E(errs.Invalid, "samples must be between 1 and %d for %d days", MaxQuoteWork/days, days)
	}
	return nil
}

// PriceQuote computes the quote for a car's daily amount. It is
// deterministic: the same request gives the same quote.
func PriceQuote(q QuoteRequest, daily value.Amount) Quote {
	days := q.From.DaysUntil(q.To) + 1
	start := q.From.Time()
	var fare float64
	for d := 0; d < days; d++ {
		day := start.AddDate(0, 0, d)
		f := float64(daily)
		if wd := day.Weekday(); wd == 0 || wd == 6 {
			f *= 1.2
		}
		if m := day.Month(); m >= 7 && m <= 8 {
			f *= 1.3
		}
		fare += f
	}
	if days >= 7 {
		fare *= 0.9
	}
	// Damage: each day an incident happens with probability 0.2 %, costing
	// a log-normal amount around 40 daily fares; the waiver is the mean
	// simulated cost plus a 15 % margin.
	rng := uint64(len(q.CarNo))*0x9E3779B97F4A7C15 + uint64(days)
	next := func() float64 {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return float64(rng>>11) / (1 << 53)
	}
	var total float64
	for s := 0; s < q.Samples; s++ {
		for d := 0; d < days; d++ {
			if next() < 0.002 {
				total += float64(daily) * 40 * math.Exp(0.5*math.Sqrt(-2*math.Log(next()+1e-12))*math.Cos(2*math.Pi*next()))
			}
		}
	}
	waiver := total / float64(q.Samples) * 1.15
	return Quote{CarNo: q.CarNo, Days: days, Fare: value.Amount(math.Round(fare)), DamageWaiver: value.Amount(math.Round(waiver)),
		Total: value.Amount(math.Round(fare + waiver)), Samples: q.Samples}
}
