package management_test

import (
	"net/http/httptest"
	"testing"

	"github.com/carrental/carrental/svc/management"
	"github.com/carrental/carrental/svc/platform/errs"
)

func TestPriceQuote(t *testing.T) {
	q := management.QuoteRequest{CarNo: "car01", From: "20200801", To: "20200805", Samples: 2000}
	got := management.PriceQuote(q, 10000)
	// 1-5 Aug 2020: Sat and Sun +20 %, all in the summer season +30 %.
	want := 10000*1.3*3 + 10000*1.3*1.2*2
	if got.Days != 5 || float64(got.Fare) != want {
		t.Fatalf("fare %d for %d days, want %.0f for 5", got.Fare, got.Days, want)
	}
	if got.DamageWaiver <= 0 || got.Total != got.Fare+got.DamageWaiver {
		t.Fatalf("waiver %d total %d", got.DamageWaiver, got.Total)
	}
	if again := management.PriceQuote(q, 10000); again != got {
		t.Fatal("the same request priced twice differs")
	}
	long := management.PriceQuote(management.QuoteRequest{CarNo: "car01", From: "20201001", To: "20201007", Samples: 1}, 10000)
	if float64(long.Fare) != (10000*5+10000*1.2*2)*0.9 {
		t.Fatalf("a week gets 10 %% off: fare %d", long.Fare)
	}
}

func TestDecodeQuote(t *testing.T) {
	for url, code := range map[string]errs.Code{
		"/carManagements/car01/quote?from=20200801&to=20200805":                "",
		"/carManagements/car01/quote?from=20200801&to=20200805&samples=100000": "",
		"/carManagements/car01/quote?from=20200805&to=20200801":                errs.Invalid,
		"/carManagements/car01/quote?from=20200801&to=20220801":                errs.Invalid,
		"/carManagements/car01/quote?from=20200801&to=20201231&samples=900000": errs.Invalid,
		"/carManagements/car01/quote?from=2020-08-01&to=20200805":              errs.Invalid,
		"/carManagements/car01/quote?from=20200801&to=20200805&samples=lots":   errs.Invalid,
	} {
		r := httptest.NewRequest("GET", url, nil)
		r.SetPathValue("carNo", "car01")
		if _, err := management.DecodeQuote(r); errs.CodeOf(err) != code {
			t.Errorf("%s: %v, want %q", url, err, code)
		}
	}
}
